"""Every write of the incident core goes through a function here."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.signing import TimestampSigner
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crisis import severity as severity_rules
from crisis import sla
from crisis.channels import ChannelTarget, Message, deliver_with_retry, get_backend
from crisis.enqueue import send_on_commit
from crisis.models import (
    MERGEABLE_STATUSES,
    SEVERITY_ORDER,
    ApiToken,
    Complexity,
    CrisisType,
    Delivery,
    DeliveryStatus,
    Department,
    DutyShift,
    EscalationPolicy,
    GroupWebhook,
    Heartbeat,
    Incident,
    MilestoneKind,
    Notification,
    NotificationReason,
    Severity,
    ShiftPosition,
    SlaMilestone,
    Status,
    TeamMember,
    TeamRole,
    TimelineEvent,
    UserChannel,
    UserProfile,
    severity_rank,
)
from crisis.roles import DUTY_OFFICER, MANAGER, ROLES, perm


def heartbeat_record(*, service: str) -> Heartbeat:
    """Record that ``service`` (worker or beat) on this host and process is alive."""
    node = f"{socket.gethostname()}:{os.getpid()}"
    beat, _created = Heartbeat.objects.update_or_create(
        service=service,
        node=node,
        defaults={"pid": os.getpid(), "beat_at": timezone.now()},
    )
    return beat


def user_set_roles(*, user: User, roles: list[str], actor: User) -> User:
    """Replace ``user``'s role groups with ``roles``; other groups are left alone."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        role_groups = Group.objects.filter(name__in=ROLES)
        user.groups.remove(*role_groups)
        user.groups.add(*Group.objects.filter(name__in=roles))
    return user


# === incident core ==========================================================================
#
# Concurrency model: every status change is a conditional UPDATE on the row's current value
# (zero rows = someone else changed it first, ConflictError). Clocks and pages are claimed by
# the scanners with SELECT ... FOR UPDATE SKIP LOCKED, and the ledger's unique dedupe_key is
# the last line of defence: a second insert of the same page fails inside a savepoint and is
# ignored, so each page exists (and is delivered) once.

logger = logging.getLogger(__name__)


class IncidentError(Exception):
    """A refusal with a message for the user (a form error, a 409, a flash message)."""


class ConflictError(IncidentError):
    """Someone else changed the incident first."""


# from-status -> statuses reachable from it (besides merge, which has its own service)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "detected": ("monitoring", "dismissed"),
    "monitoring": ("assessed", "dismissed"),
    "assessed": ("responding",),
    "responding": ("recovering",),
    "recovering": ("resolved",),
    "resolved": ("reviewed",),
    "reviewed": (),
    "dismissed": (),
    "merged": (),
}
# The capability each target status needs (views and API check it; services do not).
TRANSITION_CAPABILITY: dict[str, str] = {
    "monitoring": "acknowledge_incident",
    "assessed": "triage_incident",
    "responding": "triage_incident",
    "recovering": "triage_incident",
    "resolved": "triage_incident",
    "reviewed": "triage_incident",
    "dismissed": "triage_incident",
}
CLOSED_STATUSES = ("resolved", "reviewed", "dismissed", "merged")


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def _label(choices: type[models.TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def timeline_add(
    *,
    incident: Incident,
    kind: str,
    actor: User | None = None,
    field: str = "",
    from_value: str = "",
    to_value: str = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> TimelineEvent:
    """Append one event; the timeline is never updated or deleted by the application."""
    return TimelineEvent.objects.create(
        incident=incident,
        at=_now(now),
        actor=actor if actor is not None and actor.is_authenticated else None,
        kind=kind,
        field=field,
        from_value=str(from_value)[:200],
        to_value=str(to_value)[:200],
        reason=reason,
        data=data or {},
    )


def _touch(incident_id: int, now: datetime) -> None:
    """Bump updated_at: the board's change token moves."""
    Incident.objects.filter(pk=incident_id).update(updated_at=now)


# --- escalation policy ----------------------------------------------------------------------


def escalation_policy_default() -> EscalationPolicy:
    policy = EscalationPolicy.objects.filter(is_default=True).first()
    if policy is None:
        policy, _created = EscalationPolicy.objects.get_or_create(
            is_default=True, defaults={"name": "Default", **sla.DEFAULT_POLICY}
        )
    return policy


def escalation_policy_update(
    *,
    policy: EscalationPolicy,
    backup_after_minutes: int,
    managers_after_minutes: int,
    warning_fractions: list[float],
    progress_cadence_minutes: int,
    breach_raises_severity: list[str],
    actor: User,
) -> EscalationPolicy:
    """Change the policy for incidents opened from now on; running chains keep their snapshot."""
    if managers_after_minutes <= backup_after_minutes:
        raise IncidentError(_("Managers must be paged later than the backup."))
    if any(not 0 < f < 1 for f in warning_fractions):
        raise IncidentError(_("Warning fractions must be between 0 and 1, e.g. 0.5, 0.8."))
    unknown = set(breach_raises_severity) - set(MilestoneKind.values)
    if unknown:
        raise IncidentError(_("Unknown milestone: %(kind)s") % {"kind": ", ".join(unknown)})
    policy.backup_after_minutes = backup_after_minutes
    policy.managers_after_minutes = managers_after_minutes
    policy.warning_fractions = sorted(warning_fractions)
    policy.progress_cadence_minutes = progress_cadence_minutes
    policy.breach_raises_severity = breach_raises_severity
    policy.save()
    return policy


def _policy_snapshot(policy: EscalationPolicy) -> dict[str, Any]:
    return {
        "policy_id": policy.pk,
        "name": policy.name,
        "backup_after_minutes": policy.backup_after_minutes,
        "managers_after_minutes": policy.managers_after_minutes,
        "warning_fractions": list(policy.warning_fractions or []),
        "progress_cadence_minutes": policy.progress_cadence_minutes,
        "breach_raises_severity": list(policy.breach_raises_severity or []),
    }


def _snap(incident: Incident, key: str) -> Any:
    return (incident.escalation_snapshot or {}).get(key, sla.DEFAULT_POLICY[key])


# --- opening and signals --------------------------------------------------------------------


def _check_choice(value: str | None, choices: type[models.TextChoices], what: str) -> None:
    if value is not None and value != "" and value not in choices.values:
        raise IncidentError(
            _("Unknown %(what)s %(value)s; use one of %(choices)s.")
            % {"what": what, "value": value, "choices": ", ".join(choices.values)}
        )


def incident_open(
    *,
    title: str,
    summary: str,
    crisis_type: str | None = None,
    severity: str | None = None,
    complexity: str = "normal",
    detected_at: datetime | None = None,
    drill: bool = False,
    reporter: User | None = None,
    source: str = "manual",
    signals: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Incident:
    """Open an incident: its SLA clocks, the escalation snapshot, and the page to the primary
    duty officer. Monitoring's alerts come through here too (source="alert")."""
    now = _now(now)
    title = (title or "").strip()
    if not title:
        raise IncidentError(_("A title is required."))
    _check_choice(crisis_type, CrisisType, "crisis type")
    _check_choice(severity, Severity, "severity")
    _check_choice(complexity, Complexity, "complexity")
    detected_at = detected_at or now
    if detected_at > now + timedelta(minutes=5):
        raise IncidentError(_("The detection time cannot be in the future."))
    policy = escalation_policy_default()
    snapshot = _policy_snapshot(policy)
    with transaction.atomic():
        incident = Incident.objects.create(
            title=title[:200],
            summary=summary or "",
            crisis_type=crisis_type or "",
            severity=severity or Severity.MINOR,
            complexity=complexity,
            detected_at=detected_at,
            drill=drill,
            reporter=reporter if reporter is not None and reporter.is_authenticated else None,
            source=source,
            escalation_snapshot=snapshot,
            escalation_step=0,
            escalation_next_at=now + timedelta(minutes=snapshot["backup_after_minutes"]),
        )
        fractions = snapshot["warning_fractions"]
        SlaMilestone.objects.bulk_create(
            [
                SlaMilestone(
                    incident=incident,
                    kind=kind,
                    started_at=detected_at,
                    due_at=due_at,
                    next_check_at=sla.levels(
                        started_at=detected_at, due_at=due_at, fractions=fractions
                    )[0][1],
                )
                for kind, due_at in sla.milestone_plan(
                    complexity=complexity, detected_at=detected_at
                )
            ]
        )
        timeline_add(
            incident=incident,
            kind="opened",
            actor=reporter,
            field="status",
            to_value="detected",
            reason=summary[:500] if source == "manual" else "",
            data={"source": source, "severity": incident.severity, "drill": drill},
            now=now,
        )
        if signals:
            incident = incident_update_signals(incident=incident, signals=signals, now=now)
        _page_escalation_step(incident=incident, step=0, now=now)
    return incident


def incident_update_signals(
    *,
    incident: Incident,
    signals: dict[str, Any],
    actor: User | None = None,
    now: datetime | None = None,
) -> Incident:
    """Record monitoring's latest signals, recompute the score and raise severity if the score
    calls for it. Never lowers severity."""
    now = _now(now)
    assessment = severity_rules.assess(signals=signals, crisis_type=incident.crisis_type)
    with transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(
            signals=signals, severity_score=assessment.score, updated_at=now
        )
        incident.refresh_from_db()
        if severity_rank(assessment.severity) > severity_rank(incident.severity):
            incident = incident_raise_severity(
                incident=incident,
                severity=assessment.severity,
                actor=actor,
                reason=assessment.explain(),
                data={"score": assessment.score, "signals": signals, "trigger": "signals"},
                now=now,
            )
    return incident


def incident_raise_severity(
    *,
    incident: Incident,
    severity: str,
    reason: str,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Incident:
    """Raise severity to ``severity`` unless it is already that high (automatic raises race
    with each other and with people; the conditional update makes the highest one stick)."""
    now = _now(now)
    lower = SEVERITY_ORDER[: severity_rank(severity)]
    with transaction.atomic():
        old = Incident.objects.filter(pk=incident.pk).values_list("severity", flat=True).first()
        changed = Incident.objects.filter(pk=incident.pk, severity__in=lower).update(
            severity=severity, updated_at=now
        )
        if changed:
            timeline_add(
                incident=incident,
                kind="severity_raised",
                actor=actor,
                field="severity",
                from_value=old or "",
                to_value=severity,
                reason=reason,
                data=data,
                now=now,
            )
    incident.refresh_from_db()
    return incident


def incident_set_severity(
    *, incident: Incident, severity: str, actor: User, reason: str, now: datetime | None = None
) -> Incident:
    """A person sets severity. Going down needs a reason (the caller checks lower_severity)."""
    now = _now(now)
    _check_choice(severity, Severity, "severity")
    old = incident.severity
    if severity == old:
        return incident
    going_down = severity_rank(severity) < severity_rank(old)
    if going_down and not reason.strip():
        raise IncidentError(_("Lowering the severity needs a reason."))
    with transaction.atomic():
        changed = Incident.objects.filter(pk=incident.pk, severity=old).update(
            severity=severity, updated_at=now
        )
        if not changed:
            raise ConflictError(_("Someone else changed the severity first; reload and retry."))
        timeline_add(
            incident=incident,
            kind="severity_lowered" if going_down else "severity_raised",
            actor=actor,
            field="severity",
            from_value=old,
            to_value=severity,
            reason=reason,
            now=now,
        )
    incident.refresh_from_db()
    return incident


def incident_set_type(
    *,
    incident: Incident,
    crisis_type: str,
    actor: User,
    reason: str = "",
    now: datetime | None = None,
) -> Incident:
    now = _now(now)
    _check_choice(crisis_type, CrisisType, "crisis type")
    old = incident.crisis_type
    if crisis_type == old:
        return incident
    with transaction.atomic():
        changed = Incident.objects.filter(pk=incident.pk, crisis_type=old).update(
            crisis_type=crisis_type, updated_at=now
        )
        if not changed:
            raise ConflictError(_("Someone else changed the type first; reload and retry."))
        timeline_add(
            incident=incident,
            kind="type_changed",
            actor=actor,
            field="crisis_type",
            from_value=old,
            to_value=crisis_type,
            reason=reason,
            now=now,
        )
    incident.refresh_from_db()
    return incident


# --- transitions ----------------------------------------------------------------------------


def incident_allowed_transitions(*, incident: Incident, user: Any) -> list[str]:
    """Targets this user may move the incident to now (for the buttons on the page)."""
    return [
        to
        for to in TRANSITIONS.get(incident.status, ())
        if user.has_perm(perm(TRANSITION_CAPABILITY[to]))
    ]


def incident_transition(
    *,
    incident: Incident,
    to: str,
    actor: User | None,
    reason: str = "",
    affected_platforms: list[str] | None = None,
    estimated_reach: int | None = None,
    severity: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Move the incident one step. Checks the current status in the UPDATE itself, so of
    two people clicking at once exactly one wins; the other gets ConflictError.

    ``assessed`` is the scope confirmation: it records platforms, reach and severity.
    """
    now = _now(now)
    if to not in Status.values:
        raise IncidentError(_("Unknown status %(status)s.") % {"status": to})
    current = incident.status
    if to not in TRANSITIONS.get(current, ()):
        raise ConflictError(
            _("An incident that is %(current)s cannot move to %(to)s.")
            % {"current": _label(Status, current), "to": _label(Status, to)}
        )
    if to == "dismissed" and not reason.strip():
        raise IncidentError(_("Dismissing an incident needs a reason."))
    if severity:
        _check_choice(severity, Severity, "severity")
    if estimated_reach is not None and estimated_reach < 0:
        raise IncidentError(_("The estimated reach cannot be negative."))

    updates: dict[str, Any] = {"status": to, "updated_at": now}
    if to == "monitoring":
        updates.update(acknowledged_at=now, acknowledged_by=actor, escalation_next_at=None)
    if to == "assessed":
        if affected_platforms is not None:
            updates["affected_platforms"] = affected_platforms
        if estimated_reach is not None:
            updates["estimated_reach"] = estimated_reach
    if to == "dismissed":
        updates["dismiss_reason"] = reason
    if to in CLOSED_STATUSES:
        updates["escalation_next_at"] = None

    with transaction.atomic():
        changed = Incident.objects.filter(pk=incident.pk, status=current).update(**updates)
        if not changed:
            fresh = Incident.objects.filter(pk=incident.pk).values_list("status", flat=True).first()
            if to == "monitoring" and fresh != "detected":
                raise ConflictError(_("This incident has already been acknowledged."))
            raise ConflictError(
                _("Someone else changed this incident first (it is now %(status)s).")
                % {"status": _label(Status, fresh or "")}
            )
        timeline_add(
            incident=incident,
            kind="acknowledged" if to == "monitoring" else "status_changed",
            actor=actor,
            field="status",
            from_value=current,
            to_value=to,
            reason=reason,
            data=(
                {"affected_platforms": affected_platforms, "estimated_reach": estimated_reach}
                if to == "assessed"
                else {}
            ),
            now=now,
        )
        incident.refresh_from_db()
        if to == "monitoring":
            milestone_meet(incident=incident, kind="monitoring_started", actor=actor, now=now)
        elif to == "assessed":
            if severity and severity != incident.severity:
                if severity_rank(severity) < severity_rank(incident.severity):
                    incident = incident_set_severity(
                        incident=incident,
                        severity=severity,
                        actor=actor,  # type: ignore[arg-type]
                        reason=reason or _("Set when the scope was confirmed."),
                        now=now,
                    )
                else:
                    incident = incident_raise_severity(
                        incident=incident,
                        severity=severity,
                        actor=actor,
                        reason=reason or _("Set when the scope was confirmed."),
                        now=now,
                    )
            milestone_meet(incident=incident, kind="scope_confirmed", actor=actor, now=now)
        elif to == "responding":
            _progress_clock_start(incident=incident, started_at=now)
        elif to in CLOSED_STATUSES:
            _clocks_stop(incident=incident, now=now)
        elif to == "recovering":
            pass  # the progress clock keeps running while recovering
    incident.refresh_from_db()
    return incident


def incident_acknowledge(
    *, incident: Incident, actor: User, reason: str = "", now: datetime | None = None
) -> Incident:
    """One click from the board, the incident page, a page list or a signed link."""
    if incident.status != "detected":
        raise ConflictError(_("This incident has already been acknowledged."))
    return incident_transition(
        incident=incident, to="monitoring", actor=actor, reason=reason, now=now
    )


def incident_merge(
    *,
    duplicate: Incident,
    survivor: Incident,
    actor: User,
    reason: str = "",
    now: datetime | None = None,
) -> Incident:
    """Close ``duplicate`` into ``survivor``. Its timeline is shown with the survivor's (the
    rows stay where they are: the timeline is append-only)."""
    now = _now(now)
    if duplicate.pk == survivor.pk:
        raise IncidentError(_("An incident cannot be merged into itself."))
    if survivor.status not in (*MERGEABLE_STATUSES, "resolved"):
        raise IncidentError(_("Merge into an incident that is still open."))
    if survivor.merged_into_id:
        raise IncidentError(_("That incident was itself merged; merge into its survivor."))
    current = duplicate.status
    if current not in MERGEABLE_STATUSES:
        raise ConflictError(_("Only an open incident can be merged."))
    with transaction.atomic():
        changed = Incident.objects.filter(pk=duplicate.pk, status=current).update(
            status="merged", merged_into=survivor, escalation_next_at=None, updated_at=now
        )
        if not changed:
            raise ConflictError(_("Someone else changed this incident first."))
        timeline_add(
            incident=duplicate,
            kind="merged",
            actor=actor,
            field="status",
            from_value=current,
            to_value="merged",
            reason=reason,
            data={"survivor": survivor.pk},
            now=now,
        )
        timeline_add(
            incident=survivor,
            kind="merged_in",
            actor=actor,
            reason=reason,
            data={"duplicate": duplicate.pk, "title": duplicate.title},
            now=now,
        )
        _clocks_stop(incident=duplicate, now=now)
        _touch(survivor.pk, now)
    duplicate.refresh_from_db()
    return duplicate


# --- milestones -----------------------------------------------------------------------------


def _progress_clock_start(*, incident: Incident, started_at: datetime) -> SlaMilestone:
    cadence = timedelta(minutes=int(_snap(incident, "progress_cadence_minutes")))
    due_at = started_at + cadence
    first = sla.levels(
        started_at=started_at, due_at=due_at, fractions=_snap(incident, "warning_fractions")
    )[0][1]
    return SlaMilestone.objects.create(
        incident=incident,
        kind="progress_update",
        started_at=started_at,
        due_at=due_at,
        next_check_at=first,
    )


def _clocks_stop(*, incident: Incident, now: datetime) -> None:
    SlaMilestone.objects.filter(
        incident=incident, met_at__isnull=True, cancelled_at__isnull=True
    ).update(cancelled_at=now, next_check_at=None)


def milestone_meet(
    *,
    incident: Incident,
    kind: str,
    actor: User | None,
    evidence_url: str | None = None,
    note: str = "",
    now: datetime | None = None,
) -> SlaMilestone | None:
    """Meet the incident's open ``kind`` milestone (the earliest one, for progress updates).

    Returns the met row, or None when there is nothing to meet (already met, or the incident
    has no such clock). Idempotent: a second call changes nothing. A met progress update
    starts the next one while the incident is responding or recovering.
    The response app calls this (or ``incident_record_statement``) when it publishes.
    """
    now = _now(now)
    if kind not in MilestoneKind.values:
        raise IncidentError(_("Unknown milestone %(kind)s.") % {"kind": kind})
    if evidence_url and not evidence_url.startswith(("http://", "https://")):
        raise IncidentError(_("The evidence link must start with http:// or https://."))
    with transaction.atomic():
        row = (
            SlaMilestone.objects.select_for_update()
            .filter(incident=incident, kind=kind, met_at__isnull=True, cancelled_at__isnull=True)
            .order_by("due_at")
            .first()
        )
        if row is None:
            return None
        changed = SlaMilestone.objects.filter(pk=row.pk, met_at__isnull=True).update(
            met_at=now,
            met_by=actor if actor is not None and actor.is_authenticated else None,
            evidence_url=evidence_url or "",
            note=note,
            next_check_at=None,
        )
        if not changed:
            return None
        row.refresh_from_db()
        timeline_add(
            incident=incident,
            kind="milestone_met",
            actor=actor,
            field="milestone",
            to_value=kind,
            reason=note,
            data={
                "due_at": row.due_at.isoformat(),
                "late": row.met_late,
                "evidence_url": evidence_url or "",
            },
            now=now,
        )
        _touch(incident.pk, now)
        status = Incident.objects.filter(pk=incident.pk).values_list("status", flat=True).first()
        if kind == "progress_update" and status in ("responding", "recovering"):
            _progress_clock_start(incident=incident, started_at=now)
    return row


# Milestones met by publishing something: recorded by hand, they need the link to it.
STATEMENT_MILESTONES = frozenset(
    {"initial_statement", "detailed_reply", "complete_plan", "progress_update"}
)


def milestone_record_by_hand(
    *,
    incident: Incident,
    kind: str,
    actor: User,
    evidence_url: str | None,
    note: str = "",
    now: datetime | None = None,
) -> SlaMilestone | None:
    """A person records a milestone met outside the console (until the response app publishes
    statements itself). A statement milestone needs the link to what was published."""
    if kind in STATEMENT_MILESTONES and not evidence_url:
        raise IncidentError(_("Recording a statement by hand needs the link to it."))
    return milestone_meet(
        incident=incident, kind=kind, actor=actor, evidence_url=evidence_url, note=note, now=now
    )


def incident_record_statement(
    *,
    incident: Incident,
    statement_kind: str,
    actor: User | None,
    url: str | None = None,
    now: datetime | None = None,
) -> SlaMilestone | None:
    """What the response app calls when a statement is published: meets the milestone that
    this kind of statement meets for this incident (see sla.statement_meets)."""
    kind = sla.statement_meets(statement_kind=statement_kind, complexity=incident.complexity)
    if kind is None:
        return None
    return milestone_meet(
        incident=incident,
        kind=kind,
        actor=actor,
        evidence_url=url,
        note=f"statement: {statement_kind}",
        now=now,
    )


# --- team -----------------------------------------------------------------------------------


def team_member_add(
    *,
    incident: Incident,
    user: User,
    actor: User,
    role: str = "member",
    department: str | None = None,
    now: datetime | None = None,
) -> TeamMember:
    now = _now(now)
    _check_choice(role, TeamRole, "team role")
    if department is None:
        department = user_profile_get(user=user).department
    _check_choice(department, Department, "department")
    with transaction.atomic():
        member, created = TeamMember.objects.get_or_create(
            incident=incident, user=user, defaults={"role": role, "department": department}
        )
        if not created:
            raise IncidentError(_("%(name)s is already on the team.") % {"name": _name(user)})
        timeline_add(
            incident=incident,
            kind="team_changed",
            actor=actor,
            field="team",
            to_value=f"+{user.get_username()}",
            data={"user": user.pk, "role": role, "department": department},
            now=now,
        )
        _touch(incident.pk, now)
    return member


def team_member_remove(
    *, member: TeamMember, actor: User, reason: str = "", now: datetime | None = None
) -> None:
    now = _now(now)
    with transaction.atomic():
        deleted, _rows = TeamMember.objects.filter(pk=member.pk).delete()
        if not deleted:
            return
        timeline_add(
            incident=member.incident,
            kind="team_changed",
            actor=actor,
            field="team",
            from_value=f"-{member.user.get_username()}",
            reason=reason,
            data={"user": member.user_id},
            now=now,
        )
        _touch(member.incident_id, now)


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


# --- profile, channels, tokens --------------------------------------------------------------


def user_profile_get(*, user: User) -> UserProfile:
    profile, _created = UserProfile.objects.get_or_create(user=user)
    return profile


def user_profile_update(*, user: User, department: str, email_enabled: bool) -> UserProfile:
    _check_choice(department, Department, "department")
    profile = user_profile_get(user=user)
    profile.department = department
    profile.email_enabled = email_enabled
    profile.save()
    return profile


def _validate_channel(kind: str, address: str, secret: str, base_url: str) -> None:
    try:
        backend = get_backend(kind)
    except KeyError:
        raise IncidentError(_("Unknown channel %(kind)s.") % {"kind": kind}) from None
    try:
        backend.validate_target(
            ChannelTarget(kind=kind, address=address, secret=secret, base_url=base_url)
        )
    except ValueError as exc:
        raise IncidentError(str(exc)) from None


def user_channel_add(
    *, user: User, kind: str, address: str, secret: str = "", base_url: str = ""
) -> UserChannel:
    _validate_channel(kind, address, secret, base_url)
    return UserChannel.objects.create(
        user=user, kind=kind, address=address, secret=secret, base_url=base_url
    )


def user_channel_remove(*, user: User, channel_id: int) -> None:
    UserChannel.objects.filter(pk=channel_id, user=user).delete()


def group_webhook_create(
    *, name: str, audience: str, kind: str, address: str, secret: str = "", base_url: str = ""
) -> GroupWebhook:
    if audience not in (GroupWebhook.AUDIENCE_TEAM, *ROLES):
        raise IncidentError(_("Unknown audience %(audience)s.") % {"audience": audience})
    _validate_channel(kind, address, secret, base_url)
    return GroupWebhook.objects.create(
        name=name, audience=audience, kind=kind, address=address, secret=secret, base_url=base_url
    )


def group_webhook_delete(*, webhook_id: int) -> None:
    GroupWebhook.objects.filter(pk=webhook_id).delete()


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_token_issue(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new token; the raw value is returned once and only its hash is stored."""
    raw = "fh_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=raw[:10], key_hash=_token_hash(raw)
    )
    return token, raw


def api_token_authenticate(*, raw: str, now: datetime | None = None) -> User | None:
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_token_hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = _now(now)
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def api_token_revoke(*, token: ApiToken, now: datetime | None = None) -> bool:
    return bool(
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=_now(now))
    )


# --- roster ---------------------------------------------------------------------------------


def duty_shift_create(
    *, user: User, position: str, start: datetime, end: datetime, actor: User
) -> DutyShift:
    _check_choice(position, ShiftPosition, "position")
    if end <= start:
        raise IncidentError(_("A shift must end after it starts."))
    if end - start > timedelta(days=7):
        raise IncidentError(_("A shift cannot be longer than 7 days."))
    overlap = DutyShift.objects.filter(position=position, start__lt=end, end__gt=start)
    if overlap.exists():
        raise IncidentError(
            _("This overlaps another %(position)s shift; edit or delete that one first.")
            % {"position": _label(ShiftPosition, position)}
        )
    return DutyShift.objects.create(user=user, position=position, start=start, end=end)


def duty_shift_delete(*, shift_id: int, actor: User) -> None:
    DutyShift.objects.filter(pk=shift_id).delete()


# --- the ledger and its deliveries ----------------------------------------------------------


def _managers() -> list[User]:
    return list(User.objects.filter(is_active=True, groups__name=MANAGER).distinct().order_by("pk"))


def _role_members(role: str) -> list[User]:
    return list(User.objects.filter(is_active=True, groups__name=role).distinct().order_by("pk"))


def _on_duty(position: str, now: datetime) -> list[User]:
    return [
        s.user
        for s in DutyShift.objects.select_related("user")
        .filter(position=position, start__lte=now, end__gt=now, user__is_active=True)
        .order_by("start")
    ]


def _team_users(incident: Incident) -> list[User]:
    return [m.user for m in TeamMember.objects.select_related("user").filter(incident=incident)]


def ack_token(*, incident_id: int) -> str:
    return TimestampSigner(salt="crisis.ack").sign(str(incident_id))


def ack_token_read(*, token: str) -> int:
    """The incident id of a valid, unexpired acknowledge link; raises signing.BadSignature
    (or SignatureExpired, a subclass) otherwise."""
    max_age = int(getattr(settings, "FENGHUO_ACK_LINK_MAX_AGE", 24 * 3600))
    value = TimestampSigner(salt="crisis.ack").unsign(token, max_age=max_age)
    return int(value)


def _absolute(path: str) -> str:
    base = str(getattr(settings, "FENGHUO_BASE_URL", "http://127.0.0.1:8000")).rstrip("/")
    return base + path


def notification_create(
    *,
    dedupe_key: str,
    reason: str,
    level: str,
    title: str,
    body: str,
    recipients: list[User],
    audiences: tuple[str, ...] = (),
    severity: str = "warning",
    incident: Incident | None = None,
    milestone: SlaMilestone | None = None,
    fired_for: datetime | None = None,
    now: datetime | None = None,
) -> Notification | None:
    """Write the ledger row and its deliveries, once per ``dedupe_key``.

    Returns None when the row already exists (another worker, a duplicate task, a rerun).
    Must run inside a transaction; the delivery tasks are enqueued on commit.
    """
    now = _now(now)
    try:
        with transaction.atomic():  # a savepoint: a duplicate key only undoes this block
            notification = Notification.objects.create(
                dedupe_key=dedupe_key[:200],
                reason=reason,
                level=level,
                severity=severity,
                title=title[:300],
                body=body,
                incident=incident,
                milestone=milestone,
                created_at=now,
                fired_for=fired_for,
            )
    except IntegrityError:
        return None

    deliveries: list[Delivery] = []
    seen: set[int] = set()
    users = [u for u in recipients if u.is_active and not (u.pk in seen or seen.add(u.pk))]  # type: ignore[func-returns-value]
    profiles = {p.user_id: p for p in UserProfile.objects.filter(user__in=users)}
    channels = UserChannel.objects.filter(user__in=users, enabled=True)
    by_user: dict[int, list[UserChannel]] = {}
    for channel in channels:
        by_user.setdefault(channel.user_id, []).append(channel)
    for user in users:
        deliveries.append(
            Delivery(
                notification=notification,
                user=user,
                channel="inapp",
                status=DeliveryStatus.SENT,
                sent_at=now,
                attempts=1,
            )
        )
        profile = profiles.get(user.pk)
        if user.email and (profile is None or profile.email_enabled):
            deliveries.append(
                Delivery(notification=notification, user=user, channel="email", address=user.email)
            )
        for channel in by_user.get(user.pk, []):
            deliveries.append(
                Delivery(
                    notification=notification,
                    user=user,
                    channel=channel.kind,
                    address=channel.address,
                )
            )
    if audiences:
        for hook in GroupWebhook.objects.filter(audience__in=audiences, enabled=True):
            deliveries.append(
                Delivery(
                    notification=notification,
                    group_webhook=hook,
                    channel=hook.kind,
                    address=hook.address,
                )
            )
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    external = list(
        Delivery.objects.filter(notification=notification)
        .exclude(channel="inapp")
        .values_list("pk", flat=True)
    )
    for delivery_id in external:
        send_on_commit("crisis.deliver_notification", delivery_id)
    return notification


def notification_broadcast(
    *,
    audience_role: str,
    title: str,
    body: str,
    dedupe_key: str,
    level: str = "warning",
    incident: Incident | None = None,
    now: datetime | None = None,
) -> int:
    """Page everyone holding ``audience_role`` (and the role's group webhooks) once per
    ``dedupe_key``. Returns how many people were paged; 0 when it was already sent."""
    if audience_role not in ROLES:
        raise ValueError(f"unknown role {audience_role!r}")
    if level not in ("info", "warning", "critical"):
        raise ValueError(f"unknown level {level!r}")
    recipients = _role_members(audience_role)
    with transaction.atomic():
        row = notification_create(
            dedupe_key=f"broadcast:{dedupe_key}",
            reason=NotificationReason.BROADCAST,
            level=audience_role,
            title=title,
            body=body,
            recipients=recipients,
            audiences=(audience_role,),
            severity=level,
            incident=incident,
            now=now,
        )
    return len(recipients) if row is not None else 0


def _page_escalation_step(*, incident: Incident, step: int, now: datetime) -> Notification | None:
    """Step 0 pages the primary, 1 the backup, 2 the managers. An empty slot falls through
    to the next one, so a page always reaches someone."""
    primary = _on_duty(ShiftPosition.PRIMARY, now) if step == 0 else []
    backup = _on_duty(ShiftPosition.BACKUP, now) if step <= 1 else []
    recipients = primary or backup or _managers()
    audience = DUTY_OFFICER if step < 2 and (primary or backup) else MANAGER
    drill = _("[Drill] ") if incident.drill else ""
    sev = _label(Severity, incident.severity)
    if step == 0:
        title = _("%(drill)sNew incident #%(id)s (%(severity)s): %(title)s")
    elif step == 1:
        title = _("%(drill)sNot acknowledged, paging backup: #%(id)s (%(severity)s) %(title)s")
    else:
        title = _(
            "%(drill)sStill not acknowledged, paging managers: #%(id)s (%(severity)s) %(title)s"
        )
    return notification_create(
        dedupe_key=f"incident:{incident.pk}:page:{step}",
        reason=NotificationReason.NEW_INCIDENT if step == 0 else NotificationReason.ESCALATION,
        level=f"step:{step}",
        title=title % {"drill": drill, "id": incident.pk, "severity": sev, "title": incident.title},
        body=incident.summary[:1000],
        recipients=recipients,
        audiences=(audience,),
        severity="warning" if step == 0 else "critical",
        incident=incident,
        fired_for=now,
        now=now,
    )


def escalation_scan(*, now: datetime | None = None, batch: int = 200) -> int:
    """Advance the chain of every unacknowledged incident whose next step is due.

    Rows are claimed with SKIP LOCKED, so several scanners split the work; the step counter is
    advanced in the same transaction as the ledger row, and the ledger key is unique per step.
    """
    now = _now(now)
    done = 0
    with transaction.atomic():
        rows = list(
            Incident.objects.select_for_update(skip_locked=True)
            .filter(escalation_next_at__lte=now, status="detected")
            .order_by("escalation_next_at")[:batch]
        )
        for incident in rows:
            step = incident.escalation_step + 1
            backup_after = int(_snap(incident, "backup_after_minutes"))
            managers_after = int(_snap(incident, "managers_after_minutes"))
            fired_for = incident.escalation_next_at
            _page_escalation_step(incident=incident, step=step, now=now)
            timeline_add(
                incident=incident,
                kind="escalated",
                field="escalation",
                from_value=str(step - 1),
                to_value=str(step),
                reason=(
                    _("Not acknowledged within %(minutes)s minutes: paging the backup.")
                    % {"minutes": backup_after}
                    if step == 1
                    else _("Not acknowledged within %(minutes)s minutes: paging the managers.")
                    % {"minutes": managers_after}
                ),
                now=now,
            )
            # Counted from the opening page: the backup step fired at open + backup_after.
            next_at = (
                (fired_for or now) + timedelta(minutes=managers_after - backup_after)
                if step == 1
                else None
            )
            Incident.objects.filter(pk=incident.pk).update(
                escalation_step=step, escalation_next_at=next_at, updated_at=now
            )
            if fired_for is not None:
                done += 1
    return done


def sla_scan(*, now: datetime | None = None, batch: int = 500) -> int:
    """Write the warnings and breaches that are due; returns how many ledger rows it wrote.

    Each due milestone row is locked with SKIP LOCKED (two scanners never look at the same
    row), its level is advanced in the same transaction, and the ledger's unique key per
    (incident, milestone, level) makes a rerun after a crash harmless. A scanner that was
    down past a deadline writes the breach late, and skips warnings the breach supersedes.
    """
    now = _now(now)
    written = 0
    with transaction.atomic():
        rows = list(
            SlaMilestone.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident")
            .filter(next_check_at__lte=now, met_at__isnull=True, cancelled_at__isnull=True)
            .order_by("next_check_at")[:batch]
        )
        for row in rows:
            written += _milestone_advance(row=row, now=now)
    return written


def _milestone_advance(*, row: SlaMilestone, now: datetime) -> int:
    incident = row.incident
    points = sla.levels(
        started_at=row.started_at,
        due_at=row.due_at,
        fractions=_snap(incident, "warning_fractions"),
    )
    warnings = points[:-1]
    written = 0
    updates: dict[str, Any] = {}
    next_check: datetime | None = None
    if now >= row.due_at:
        if row.breached_at is None:
            if _sla_notify(row=row, level="breach", fired_for=row.due_at, now=now):
                written += 1
            updates["breached_at"] = now
            updates["warnings_sent"] = len(warnings)
    else:
        sent = row.warnings_sent
        due_warnings = [(i, lvl, at) for i, (lvl, at) in enumerate(warnings) if at <= now]
        if due_warnings and due_warnings[-1][0] >= sent:
            # Only the latest due warning is sent; earlier ones it supersedes are skipped.
            index, level, at = due_warnings[-1]
            if _sla_notify(row=row, level=level, fired_for=at, now=now):
                written += 1
            updates["warnings_sent"] = index + 1
            updates["warned_at"] = row.warned_at or now
        remaining = [at for i, (_lvl, at) in enumerate(points) if at > now]
        next_check = remaining[0] if remaining else row.due_at
    updates["next_check_at"] = next_check
    SlaMilestone.objects.filter(pk=row.pk).update(**updates)
    if written:
        _touch(incident.pk, now)
    return written


def _sla_notify(*, row: SlaMilestone, level: str, fired_for: datetime, now: datetime) -> bool:
    incident = row.incident
    breach = level == "breach"
    team = _team_users(incident)
    recipients = team or _on_duty(ShiftPosition.PRIMARY, now) or _managers()
    if breach:
        recipients = recipients + _managers()
    kind_label = _label(MilestoneKind, row.kind)
    drill = _("[Drill] ") if incident.drill else ""
    if breach:
        title = _("%(drill)sSLA breached: %(milestone)s of #%(id)s %(title)s")
    else:
        title = _("%(drill)sSLA warning: %(milestone)s of #%(id)s %(title)s is due soon")
    body = _("Due at %(due)s.") % {"due": timezone.localtime(row.due_at).strftime("%Y-%m-%d %H:%M")}
    created = notification_create(
        dedupe_key=f"sla:{row.pk}:{level}",
        reason=NotificationReason.SLA_BREACH if breach else NotificationReason.SLA_WARNING,
        level=level,
        title=title
        % {"drill": drill, "milestone": kind_label, "id": incident.pk, "title": incident.title},
        body=body,
        recipients=recipients,
        audiences=(GroupWebhook.AUDIENCE_TEAM, MANAGER)
        if breach
        else (GroupWebhook.AUDIENCE_TEAM,),
        severity="critical" if breach else "warning",
        incident=incident,
        milestone=row,
        fired_for=fired_for,
        now=now,
    )
    if created is None:
        return False
    if breach:
        timeline_add(
            incident=incident,
            kind="sla_breached",
            field="milestone",
            to_value=row.kind,
            reason=_("The %(milestone)s deadline passed without it being met.")
            % {"milestone": kind_label},
            data={"due_at": row.due_at.isoformat(), "milestone_id": row.pk},
            now=now,
        )
        if row.kind in _snap(incident, "breach_raises_severity"):
            current = Incident.objects.filter(pk=incident.pk).values_list("severity", flat=True)[0]
            rank = severity_rank(current)
            if rank < len(SEVERITY_ORDER) - 1:
                incident_raise_severity(
                    incident=incident,
                    severity=SEVERITY_ORDER[rank + 1],
                    reason=_("The %(milestone)s deadline was breached.")
                    % {"milestone": kind_label},
                    data={"trigger": "breach", "milestone": row.kind},
                    now=now,
                )
    return True


def notification_message(*, delivery: Delivery) -> Message:
    n = delivery.notification
    url = ack = None
    if n.incident_id:
        url = _absolute(reverse("incident_detail", args=[n.incident_id]))
        if n.reason in (NotificationReason.NEW_INCIDENT, NotificationReason.ESCALATION):
            ack = _absolute(
                reverse("incident_ack_link", args=[ack_token(incident_id=n.incident_id)])
            )
    return Message(
        title=n.title,
        body=n.body,
        level=n.severity if n.severity in ("info", "warning", "critical") else "warning",
        url=url,
        ack_url=ack,
        dedupe_key=n.dedupe_key,
    )


def _delivery_target(delivery: Delivery) -> ChannelTarget:
    secret = base_url = ""
    if delivery.group_webhook_id and delivery.group_webhook is not None:
        secret, base_url = delivery.group_webhook.secret, delivery.group_webhook.base_url
    elif delivery.user_id and delivery.channel != "email":
        channel = UserChannel.objects.filter(
            user_id=delivery.user_id, kind=delivery.channel, address=delivery.address
        ).first()
        if channel is not None:
            secret, base_url = channel.secret, channel.base_url
    return ChannelTarget(
        kind=delivery.channel, address=delivery.address, secret=secret, base_url=base_url
    )


# Delays before the 2nd, 3rd, ... attempt of a delivery; the last repeats.
DELIVERY_BACKOFF_SECONDS = (10, 30, 120, 600)
DELIVERY_MAX_ATTEMPTS = 5
# A claim older than this belongs to a worker that died mid-send.
DELIVERY_CLAIM_TIMEOUT = timedelta(minutes=5)


def delivery_attempt(
    *, delivery_id: int, now: datetime | None = None, sleep: Any = None
) -> Delivery | None:
    """Claim one delivery and send it. Returns None if it was gone, done, or claimed by
    another worker; otherwise the delivery with its recorded outcome."""
    now = _now(now)
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status__in=("pending", "retry"))
        .filter(models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now))
        .update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=models.F("attempts") + 1)
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("notification", "group_webhook").get(pk=delivery_id)
    message = notification_message(delivery=delivery)
    target = _delivery_target(delivery)
    kwargs: dict[str, Any] = {"attempts": 2, "backoff": (1,)}
    if sleep is not None:
        kwargs["sleep"] = sleep
    result = deliver_with_retry(target=target, message=message, **kwargs)
    done_at = timezone.now()
    updates: dict[str, Any] = {
        "detail": result.detail[:2000],
        "status_code": result.status_code,
        "claimed_at": None,
    }
    if result.ok:
        updates.update(status=DeliveryStatus.SENT, sent_at=done_at, next_attempt_at=None)
    elif result.transient and delivery.attempts < DELIVERY_MAX_ATTEMPTS:
        delay = DELIVERY_BACKOFF_SECONDS[
            min(delivery.attempts - 1, len(DELIVERY_BACKOFF_SECONDS) - 1)
        ]
        updates.update(
            status=DeliveryStatus.RETRY, next_attempt_at=done_at + timedelta(seconds=delay)
        )
    else:
        updates.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(**updates)
    delivery.refresh_from_db()
    return delivery


def deliveries_due(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Deliveries whose retry time has come, and claims abandoned by a dead worker."""
    now = _now(now)
    stale = now - DELIVERY_CLAIM_TIMEOUT
    Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=stale).update(
        status=DeliveryStatus.RETRY, next_attempt_at=now, claimed_at=None
    )
    return list(
        Delivery.objects.filter(status=DeliveryStatus.RETRY, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def notifications_mark_read(
    *, user: User, delivery_ids: list[int] | None = None, now: datetime | None = None
) -> int:
    qs = Delivery.objects.filter(user=user, channel="inapp", read_at__isnull=True)
    if delivery_ids is not None:
        qs = qs.filter(pk__in=delivery_ids)
    return qs.update(read_at=_now(now))
