"""The SLA rules of the crisis playbook: which milestones an incident gets, when each is due,
and when its warnings fall. Pure functions; the services write the rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

# kind -> (minutes after detection, complexities it applies to)
MILESTONE_RULES: dict[str, tuple[int, tuple[str, ...]]] = {
    "monitoring_started": (30, ("emergency", "normal", "complex")),
    "scope_confirmed": (120, ("emergency", "normal", "complex")),
    "initial_statement": (240, ("emergency", "normal", "complex")),
    "detailed_reply": (24 * 60, ("normal",)),
    "complete_plan": (48 * 60, ("complex",)),
}

# What the policy holds when no policy row exists yet (and what a new default row gets).
DEFAULT_POLICY: dict[str, Any] = {
    "backup_after_minutes": 5,
    "managers_after_minutes": 15,
    "warning_fractions": [0.5, 0.8],
    "progress_cadence_minutes": 120,
    "breach_raises_severity": ["initial_statement"],
}

# Which statement kinds (from the response app) meet which milestone.
STATEMENT_MILESTONES: dict[str, str] = {
    "initial": "initial_statement",
    "apology": "initial_statement",
    "clarification": "initial_statement",
    "detailed_reply": "detailed_reply",
    "complete_plan": "complete_plan",
    "progress": "progress_update",
}


def milestone_plan(*, complexity: str, detected_at: datetime) -> list[tuple[str, datetime]]:
    """(kind, due_at) of the milestones an incident of this complexity gets."""
    return [
        (kind, detected_at + timedelta(minutes=minutes))
        for kind, (minutes, applies) in MILESTONE_RULES.items()
        if complexity in applies
    ]


def levels(
    *, started_at: datetime, due_at: datetime, fractions: list[float]
) -> list[tuple[str, datetime]]:
    """The points where the clock speaks: ("warning:1", t), ("warning:2", t), ("breach", due)."""
    span = due_at - started_at
    points = [
        (f"warning:{i}", started_at + span * float(f))
        for i, f in enumerate(sorted(f for f in fractions if 0 < float(f) < 1), start=1)
    ]
    points.append(("breach", due_at))
    return points


def statement_meets(*, statement_kind: str, complexity: str) -> str | None:
    """The milestone a published statement meets. A holding statement meets the initial
    statement only in an emergency ("statement first, details later")."""
    if statement_kind == "holding":
        return "initial_statement" if complexity == "emergency" else None
    return STATEMENT_MILESTONES.get(statement_kind)
