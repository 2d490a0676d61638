"""The base of every incident service: the timeline and the small helpers they share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from crisis.models import Incident, TimelineEvent
from crisis.services.errors import IncidentError


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def _label(choices: type[models.TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _check_choice(value: str | None, choices: type[models.TextChoices], what: str) -> None:
    if value is not None and value != "" and value not in choices.values:
        raise IncidentError(
            _("Unknown %(what)s %(value)s; use one of %(choices)s.")
            % {"what": what, "value": value, "choices": ", ".join(choices.values)}
        )


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
