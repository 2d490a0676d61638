"""Which role may do what: the one place that decides.

Roles are groups and what a role may do is a capability (``crisis/roles.py``); this module
answers the questions views, the API and the apps above ask about a user: may they do this,
and if not, the refusal (``ForbiddenError``, a 403 that names the roles that may). Rules
that depend on the incident as well as the role (lowering severity, moving to a status,
approving at a level) are decided here too, so a view and the API cannot disagree.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from crisis.errors import ForbiddenError
from crisis.models import Incident, severity_rank
from crisis.roles import CAPABILITIES, ROLE_LABELS, perm
from crisis.services.incidents import TRANSITIONS

# The capability each target status needs.
TRANSITION_CAPABILITY: dict[str, str] = {
    "monitoring": "acknowledge_incident",
    "assessed": "triage_incident",
    "responding": "triage_incident",
    "recovering": "triage_incident",
    "resolved": "triage_incident",
    "reviewed": "triage_incident",
    "dismissed": "triage_incident",
}

# Statement approval levels (response/) and the capability each needs.
APPROVAL_CAPABILITY: dict[str, str] = {
    "pr": "approve_pr",
    "legal": "approve_legal",
    "executive": "approve_executive",
}


def roles_holding(capability: str) -> str:
    """The labels of the roles that hold ``capability``, for a refusal message."""
    return "、".join(str(ROLE_LABELS[r]) for r in CAPABILITIES[capability][1])


def can(user: Any, capability: str) -> bool:
    return bool(user.has_perm(perm(capability)))


def require(user: Any, capability: str) -> None:
    """Raise ForbiddenError (a 403) naming the roles that may do this."""
    if not can(user, capability):
        raise ForbiddenError(
            _("Your role does not allow this action. It needs one of these roles: %(roles)s.")
            % {"roles": roles_holding(capability)}
        )


# --- incidents ------------------------------------------------------------------------------


def transition_capability(to: str) -> str:
    return TRANSITION_CAPABILITY.get(to, "triage_incident")


def require_transition(user: Any, *, to: str) -> None:
    require(user, transition_capability(to))


def allowed_transitions(*, incident: Incident, user: Any) -> list[str]:
    """Targets this user may move the incident to now (for the buttons on the page)."""
    return [
        to for to in TRANSITIONS.get(incident.status, ()) if can(user, TRANSITION_CAPABILITY[to])
    ]


def lowers_severity(*, incident: Incident, severity: str | None) -> bool:
    """Whether setting ``severity`` would lower the incident's. An empty or unknown value
    lowers nothing (the service refuses an unknown one)."""
    if not severity:
        return False
    try:
        return severity_rank(severity) < severity_rank(incident.severity)
    except (KeyError, ValueError):
        return False


def require_severity_change(user: Any, *, incident: Incident, severity: str | None) -> None:
    """Lowering needs ``lower_severity``; raising or keeping it is part of triage."""
    if lowers_severity(incident=incident, severity=severity):
        require(user, "lower_severity")


def require_severity_set(user: Any, *, incident: Incident, severity: str) -> None:
    """The severity form: lowering needs ``lower_severity``, raising ``triage_incident``."""
    lowering = lowers_severity(incident=incident, severity=severity)
    require(user, "lower_severity" if lowering else "triage_incident")


# --- statements (response/) -----------------------------------------------------------------


def can_approve(user: Any, level: str) -> bool:
    capability = APPROVAL_CAPABILITY.get(level)
    return capability is not None and can(user, capability)


def require_approval(user: Any, level: str) -> None:
    if level not in APPROVAL_CAPABILITY:
        raise KeyError(f"unknown approval level {level!r}")
    require(user, APPROVAL_CAPABILITY[level])
