"""The audit trail in words: each row is a code and its data (``crisis.models.AuditEvent``),
turned into a sentence in the reader's language when it is shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from crisis.models import AuditAction, AuditEvent, MilestoneKind, ShiftPosition
from crisis.roles import ROLE_LABELS


def _role_list(roles: list[str]) -> str:
    return "、".join(str(ROLE_LABELS.get(r, r)) for r in roles) or _("no role")


def _when(value: str) -> str:
    try:
        at = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


def _position(code: str) -> str:
    try:
        return str(ShiftPosition(code).label)
    except ValueError:
        return code


def _policy_value(name: str, value: Any) -> str:
    if name == "breach_raises_severity":
        labels = []
        for kind in value or []:
            try:
                labels.append(str(MilestoneKind(kind).label))
            except ValueError:
                labels.append(str(kind))
        return "、".join(labels) or "—"
    if name == "warning_fractions":
        return ", ".join(f"{f:g}" for f in value or []) or "—"
    return str(value)


def _policy_field(name: str) -> str:
    labels = {
        "backup_after_minutes": _("page the backup after (minutes)"),
        "managers_after_minutes": _("page the managers after (minutes)"),
        "warning_fractions": _("warning fractions"),
        "progress_cadence_minutes": _("progress update every (minutes)"),
        "breach_raises_severity": _("a breach raises severity for"),
    }
    return labels.get(name, name)


def describe(event: AuditEvent) -> str:
    """One line for the recent-changes list, in the active language."""
    d = event.data or {}
    action = event.action
    if action == AuditAction.ROLES_SET:
        return _("Roles of %(user)s: %(before)s → %(after)s") % {
            "user": d.get("username", ""),
            "before": _role_list(d.get("before", [])),
            "after": _role_list(d.get("after", [])),
        }
    if action == AuditAction.POLICY_UPDATED:
        changes = d.get("changes", {})
        parts = [
            _("%(field)s: %(old)s → %(new)s")
            % {
                "field": _policy_field(name),
                "old": _policy_value(name, old),
                "new": _policy_value(name, new),
            }
            for name, (old, new) in changes.items()
        ]
        return _("Escalation policy changed: %(changes)s") % {"changes": "；".join(parts)}
    if action in (AuditAction.SHIFT_CREATED, AuditAction.SHIFT_DELETED):
        values = {
            "position": _position(d.get("position", "")),
            "user": d.get("username", ""),
            "start": _when(d.get("start", "")),
            "end": _when(d.get("end", "")),
        }
        if action == AuditAction.SHIFT_CREATED:
            return _("Shift added: %(position)s %(user)s, %(start)s – %(end)s") % values
        return _("Shift deleted: %(position)s %(user)s, %(start)s – %(end)s") % values
    if action in (AuditAction.WEBHOOK_CREATED, AuditAction.WEBHOOK_DELETED):
        audience = d.get("audience", "")
        values = {
            "name": d.get("name", ""),
            "audience": _("every incident team")
            if audience == "team"
            else str(ROLE_LABELS.get(audience, audience)),
        }
        if action == AuditAction.WEBHOOK_CREATED:
            return _("Group webhook %(name)s added (for %(audience)s)") % values
        return _("Group webhook %(name)s deleted (for %(audience)s)") % values
    try:
        return str(AuditAction(action).label)
    except ValueError:
        return action
