"""Reads of the incident core shared by views, API and health."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import Count, F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from crisis.models import (
    OPEN_STATUSES,
    SEVERITY_ORDER,
    AuditEvent,
    Delivery,
    DutyShift,
    Heartbeat,
    Incident,
    Notification,
    NotificationReason,
    SlaMilestone,
    TeamMember,
    TimelineEvent,
    UserProfile,
)
from crisis.roles import ROLE_LABELS, ROLES


def heartbeat_latest(*, service: str) -> datetime | None:
    return Heartbeat.objects.filter(service=service).aggregate(latest=Max("beat_at"))["latest"]


def heartbeat_is_fresh(*, service: str, max_age_seconds: float) -> tuple[bool, datetime | None]:
    latest = heartbeat_latest(service=service)
    if latest is None:
        return False, None
    return timezone.now() - latest <= timedelta(seconds=max_age_seconds), latest


def user_roles(user: User) -> list[str]:
    """The role codes of ``user`` in a stable order."""
    names = {g.name for g in user.groups.all()}
    return [role for role in ROLES if role in names]


def user_role_labels(user: User) -> list[str]:
    return [str(ROLE_LABELS[r]) for r in user_roles(user)]


def users_with_roles() -> QuerySet[User]:
    return User.objects.filter(is_active=True).prefetch_related("groups").order_by("username")


# === incident core ==========================================================================


def _pending_milestones() -> QuerySet[SlaMilestone]:
    return SlaMilestone.objects.filter(
        incident=OuterRef("pk"), met_at__isnull=True, cancelled_at__isnull=True
    ).order_by("due_at")


def incident_board(
    *, status: str = "", severity: str = "", crisis_type: str = ""
) -> QuerySet[Incident]:
    """Open incidents, nearest SLA deadline first. A fixed number of queries whatever the
    number of incidents: the next milestone and the team size are subqueries."""
    pending = _pending_milestones()
    qs = Incident.objects.filter(status__in=OPEN_STATUSES)
    if status:
        qs = qs.filter(status=status)
    if severity:
        qs = qs.filter(severity=severity)
    if crisis_type:
        qs = qs.filter(crisis_type=crisis_type)
    return qs.annotate(
        next_due_at=Subquery(pending.values("due_at")[:1]),
        next_kind=Subquery(pending.values("kind")[:1]),
        next_breached=Subquery(pending.values("breached_at")[:1]),
        next_warned=Subquery(pending.values("warned_at")[:1]),
        team_size=Coalesce(
            Subquery(
                TeamMember.objects.filter(incident=OuterRef("pk"))
                .order_by()
                .values("incident")
                .annotate(n=Count("pk"))
                .values("n")[:1]
            ),
            0,
        ),
    ).order_by(F("next_due_at").asc(nulls_last=True), "-detected_at")


def incident_board_token(*, filters: str = "") -> str:
    """Changes whenever anything the board shows changes (every service bumps updated_at)."""
    agg = Incident.objects.aggregate(latest=Max("updated_at"), count=Count("pk"), last_id=Max("pk"))
    latest = agg["latest"].timestamp() if agg["latest"] else 0
    # Max id too: ids are never reused, so two states never share a token (the rendered
    # rows are cached by it). Countdowns are absolute due_at times, so time passing alone
    # changes nothing; warnings and breaches bump updated_at.
    raw = f"{agg['count']}:{latest}:{agg['last_id']}:{filters}"
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:16]


def incident_timeline(*, incident: Incident) -> QuerySet[TimelineEvent]:
    """The incident's events and those of the incidents merged into it."""
    return (
        TimelineEvent.objects.filter(Q(incident=incident) | Q(incident__merged_into=incident))
        .select_related("actor")
        .order_by("at", "id")
    )


def incident_notifications(*, incident: Incident) -> QuerySet[Notification]:
    return (
        Notification.objects.filter(incident=incident)
        .prefetch_related(Prefetch("deliveries", queryset=Delivery.objects.select_related("user")))
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class TeamRequirement:
    severity: str
    required_people: int
    actual_people: int
    departments: int
    required_departments: int
    has_legal: bool
    has_executive: bool
    needs_committee: bool
    shortfalls: list[str]

    @property
    def met(self) -> bool:
        return not self.shortfalls


TEAM_SIZE = {"minor": 3, "moderate": 5, "severe": 5}


def team_requirement(*, incident: Incident, members: list[TeamMember]) -> TeamRequirement:
    """What the severity asks of the team and where the team falls short.

    minor: 3 people; moderate: 5; severe: a committee from at least 3 departments with legal
    counsel and an executive (and at least as many people as a moderate group)."""
    severity = incident.severity
    people = len(members)
    departments = len({m.department for m in members})
    has_legal = any(m.role == "legal" or m.department == "legal" for m in members)
    has_exec = any(m.role == "executive" or m.department == "executive" for m in members)
    committee = severity == "severe"
    required = TEAM_SIZE.get(severity, 3)
    shortfalls: list[str] = []
    if people < required:
        shortfalls.append(
            _("%(missing)s more people needed (%(actual)s of %(required)s).")
            % {"missing": required - people, "actual": people, "required": required}
        )
    if committee:
        if departments < 3:
            shortfalls.append(
                _("Members from %(count)s departments; the committee needs at least 3.")
                % {"count": departments}
            )
        if not has_legal:
            shortfalls.append(_("The committee has no legal counsel."))
        if not has_exec:
            shortfalls.append(_("The committee has no executive."))
    return TeamRequirement(
        severity=severity,
        required_people=required,
        actual_people=people,
        departments=departments,
        required_departments=3 if committee else 0,
        has_legal=has_legal,
        has_executive=has_exec,
        needs_committee=committee,
        shortfalls=shortfalls,
    )


def on_duty_now(*, now: datetime | None = None) -> dict[str, list[DutyShift]]:
    now = now or timezone.now()
    shifts = DutyShift.objects.select_related("user").filter(start__lte=now, end__gt=now)
    result: dict[str, list[DutyShift]] = {"primary": [], "backup": []}
    for shift in shifts:
        result.setdefault(shift.position, []).append(shift)
    return result


def roster_shifts(*, start: datetime, end: datetime) -> QuerySet[DutyShift]:
    return (
        DutyShift.objects.select_related("user")
        .filter(start__lt=end, end__gt=start)
        .order_by("start", "position")
    )


def roster_gaps(
    *, start: datetime | None = None, days: int = 7, position: str = "primary"
) -> list[tuple[datetime, datetime]]:
    """Stretches of the next ``days`` with no ``position`` shift."""
    start = start or timezone.now()
    end = start + timedelta(days=days)
    gaps: list[tuple[datetime, datetime]] = []
    cursor = start
    for s_start, s_end in (
        DutyShift.objects.filter(position=position, start__lt=end, end__gt=start)
        .order_by("start")
        .values_list("start", "end")
    ):
        if s_start > cursor:
            gaps.append((cursor, s_start))
        cursor = max(cursor, s_end)
    if cursor < end:
        gaps.append((cursor, end))
    # Ignore slivers under a minute (shifts that end at :59:59 and the like).
    return [(a, b) for a, b in gaps if b - a >= timedelta(minutes=1)]


def my_pages(*, user: User, only_open: bool = True) -> QuerySet[Delivery]:
    """The in-app pages (new incident, escalation) sent to ``user``; open = still unacked."""
    qs = Delivery.objects.filter(
        user=user,
        channel="inapp",
        notification__reason__in=(NotificationReason.NEW_INCIDENT, NotificationReason.ESCALATION),
    ).select_related("notification", "notification__incident")
    if only_open:
        qs = qs.filter(notification__incident__status="detected")
    return qs.order_by("-created_at")


def inbox(*, user: User) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(user=user, channel="inapp")
        .select_related("notification")
        .order_by("-created_at", "-id")
    )


def unread_count(*, user: User) -> int:
    return Delivery.objects.filter(user=user, channel="inapp", read_at__isnull=True).count()


def open_incidents_by_severity() -> dict[str, int]:
    counts = {s: 0 for s in SEVERITY_ORDER}
    for row in (
        Incident.objects.filter(status__in=OPEN_STATUSES)
        .values("severity")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts[row["severity"]] = row["n"]
    return counts


def user_profile(*, user: User) -> UserProfile:
    """The user's profile, or an unsaved one with the defaults (a read never creates it)."""
    return UserProfile.objects.filter(user=user).first() or UserProfile(user=user)


def audit_recent(*, actions: Sequence[str], limit: int = 10) -> QuerySet[AuditEvent]:
    """The latest audit rows of these actions, newest first, with who made them."""
    return AuditEvent.objects.filter(action__in=actions).select_related("actor")[:limit]
