"""The audit trail of changes that belong to no incident (roles, escalation policy, roster,
group webhooks). The timeline plays this part for incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User

from crisis.models import AuditAction, AuditEvent
from crisis.services.timeline import _now


def audit_record(
    *,
    action: str,
    actor: User | None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one audit row: an action code and its data (rendered at display time by
    ``crisis.audit_text``, in the reader's language)."""
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    return AuditEvent.objects.create(
        at=_now(now),
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        data=data or {},
    )
