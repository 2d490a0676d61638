"""Roles are Django groups; what each may do is a permission on ``crisis.AccessPolicy``.

The data migration ``0002_roles`` creates the groups from the table below; later apps add
their own capabilities with their own data migrations.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

ANALYST = "analyst"
DUTY_OFFICER = "duty_officer"
MANAGER = "manager"
LEGAL = "legal"
EXECUTIVE = "executive"

ROLE_LABELS = {
    ANALYST: _("PR analyst"),
    DUTY_OFFICER: _("Duty officer"),
    MANAGER: _("Manager"),
    LEGAL: _("Legal counsel"),
    EXECUTIVE: _("Executive"),
}
ROLES = tuple(ROLE_LABELS)

# capability codename -> (description, roles that hold it)
CAPABILITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "view_console": ("Can view the console", ROLES),
    "report_incident": ("Can report an incident by hand", (ANALYST, DUTY_OFFICER, MANAGER)),
    "triage_incident": (
        "Can change an incident's status, type and scope",
        (ANALYST, DUTY_OFFICER, MANAGER),
    ),
    "acknowledge_incident": ("Can acknowledge incidents and pages", (DUTY_OFFICER, MANAGER)),
    "lower_severity": ("Can lower an incident's severity", (MANAGER,)),
    "manage_team": ("Can manage incident teams", (DUTY_OFFICER, MANAGER)),
    "manage_roster": ("Can edit the duty roster and escalation policy", (MANAGER,)),
    "manage_roles": ("Can change users' roles", (MANAGER,)),
    "manage_sources": ("Can manage sources, topics and term libraries", (ANALYST, MANAGER)),
    "correct_analysis": ("Can correct a mention's sentiment or type", (ANALYST, MANAGER)),
    "draft_statement": ("Can draft statements and channel plans", (ANALYST, MANAGER)),
    "approve_pr": ("Can approve statements at PR-lead level", (MANAGER,)),
    "approve_legal": ("Can approve statements at legal level", (LEGAL,)),
    "approve_executive": ("Can approve statements at executive level", (EXECUTIVE,)),
    "view_reports": ("Can read post-mortems and metrics", (MANAGER, EXECUTIVE, ANALYST, LEGAL)),
    "edit_postmortem": ("Can write post-mortems", (ANALYST, MANAGER)),
    # Added by migration 0004 (incident core).
    "record_milestone": (
        "Can record an SLA milestone by hand, with its evidence",
        (DUTY_OFFICER, MANAGER),
    ),
    "manage_notifications": ("Can manage group webhooks for roles and teams", (MANAGER,)),
}


def perm(codename: str) -> str:
    """The full permission name for ``user.has_perm``."""
    if codename not in CAPABILITIES:
        raise KeyError(f"unknown capability {codename!r}")
    return f"crisis.{codename}"
