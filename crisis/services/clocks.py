"""The clocks of an incident: SLA milestones and how they are met, the escalation chain of
an unacknowledged incident, and the scanners that page when a clock runs out.

Concurrency model: clocks and pages are claimed by the scanners with SELECT ... FOR UPDATE
SKIP LOCKED, and the ledger's unique dedupe_key is the last line of defence: a second insert
of the same page fails inside a savepoint and is ignored, so each page exists (and is
delivered) once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crisis import sla
from crisis.models import (
    SEVERITY_ORDER,
    AuditAction,
    EscalationPolicy,
    GroupWebhook,
    Incident,
    MilestoneKind,
    Notification,
    NotificationReason,
    Severity,
    ShiftPosition,
    SlaMilestone,
    severity_rank,
)
from crisis.roles import DUTY_OFFICER, MANAGER
from crisis.services.audit import audit_record
from crisis.services.errors import IncidentError
from crisis.services.notifications import notification_create
from crisis.services.people import _managers, _on_duty, _team_users
from crisis.services.severity import incident_raise_severity
from crisis.services.timeline import _label, _now, _touch, timeline_add

# --- escalation policy ----------------------------------------------------------------------


def escalation_policy_default() -> EscalationPolicy:
    """The default policy, read only: the stored row, or (before anyone saved one) an unsaved
    policy with the built-in values. Pages call this; writes go through
    ``escalation_policy_ensure``."""
    policy = EscalationPolicy.objects.filter(is_default=True).first()
    if policy is None:
        policy = EscalationPolicy(name="Default", is_default=True, **sla.DEFAULT_POLICY)
    return policy


def escalation_policy_ensure() -> EscalationPolicy:
    """The stored default policy, created with the built-in values if there is none yet."""
    policy = EscalationPolicy.objects.filter(is_default=True).first()
    if policy is None:
        policy, _created = EscalationPolicy.objects.get_or_create(
            is_default=True, defaults={"name": "Default", **sla.DEFAULT_POLICY}
        )
    return policy


POLICY_FIELDS = (
    "backup_after_minutes",
    "managers_after_minutes",
    "warning_fractions",
    "progress_cadence_minutes",
    "breach_raises_severity",
)


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
    """Change the policy for incidents opened from now on; running chains keep their snapshot.
    The change is written to the audit trail (old and new value of each changed field)."""
    if managers_after_minutes <= backup_after_minutes:
        raise IncidentError(_("Managers must be paged later than the backup."))
    if any(not 0 < f < 1 for f in warning_fractions):
        raise IncidentError(_("Warning fractions must be between 0 and 1, e.g. 0.5, 0.8."))
    unknown = set(breach_raises_severity) - set(MilestoneKind.values)
    if unknown:
        raise IncidentError(_("Unknown milestone: %(kind)s") % {"kind": ", ".join(unknown)})
    stored = policy
    if policy.pk is None and policy.is_default:
        # The built-in values a page read before anyone saved: this save writes the row.
        stored = escalation_policy_ensure()
        policy.pk, policy.name = stored.pk, stored.name
        policy._state.adding = False
    before = {name: getattr(stored, name) for name in POLICY_FIELDS}
    policy.backup_after_minutes = backup_after_minutes
    policy.managers_after_minutes = managers_after_minutes
    policy.warning_fractions = sorted(warning_fractions)
    policy.progress_cadence_minutes = progress_cadence_minutes
    policy.breach_raises_severity = breach_raises_severity
    with transaction.atomic():
        policy.save()
        changes = {
            name: [before[name], getattr(policy, name)]
            for name in POLICY_FIELDS
            if before[name] != getattr(policy, name)
        }
        if changes:
            audit_record(
                action=AuditAction.POLICY_UPDATED,
                actor=actor,
                data={"policy": policy.pk, "changes": changes},
            )
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


# --- escalation and the SLA scan ------------------------------------------------------------


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
