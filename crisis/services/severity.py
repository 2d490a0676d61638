"""Severity and crisis type of an incident. Severity goes up on its own (monitoring's signals,
a breach) and down only by a person with a reason; the caller checks that the person may
(``crisis.policies``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from crisis import severity as severity_rules
from crisis.models import SEVERITY_ORDER, CrisisType, Incident, Severity, severity_rank
from crisis.services.errors import ConflictError, IncidentError
from crisis.services.timeline import _check_choice, _now, timeline_add


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
