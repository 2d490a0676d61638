"""Opening an incident and moving it through its statuses.

Concurrency model: every status change is a conditional UPDATE on the row's current value
(zero rows = someone else changed it first, ConflictError).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from crisis import sla
from crisis.models import (
    MERGEABLE_STATUSES,
    Complexity,
    CrisisType,
    Incident,
    Severity,
    SlaMilestone,
    Status,
    severity_rank,
)
from crisis.services.clocks import (
    _clocks_stop,
    _page_escalation_step,
    _policy_snapshot,
    _progress_clock_start,
    escalation_policy_ensure,
    milestone_meet,
)
from crisis.services.errors import ConflictError, IncidentError
from crisis.services.severity import (
    incident_raise_severity,
    incident_set_severity,
    incident_update_signals,
)
from crisis.services.timeline import _check_choice, _label, _now, _touch, timeline_add

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


CLOSED_STATUSES = ("resolved", "reviewed", "dismissed", "merged")


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
    policy = escalation_policy_ensure()
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
