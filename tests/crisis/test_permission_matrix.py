"""The role × action matrix through the UI (the API's is in test_incident_api.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from crisis.models import DutyShift, Incident, SlaMilestone, TeamMember
from tests.conftest import PASSWORD, make_user
from tests.crisis.factories import open_incident

ROLES = ["analyst", "duty_officer", "manager", "legal", "executive", None]
A, D, M = "analyst", "duty_officer", "manager"


def _report(client: Any, incident: Incident, user: User) -> bool:
    client.post(
        reverse("incident_report"),
        {"title": "matrix", "summary": "s", "severity": "minor", "complexity": "normal"},
    )
    return Incident.objects.filter(title="matrix").exists()


def _ack(client: Any, incident: Incident, user: User) -> bool:
    client.post(reverse("incident_ack", args=[incident.pk]))
    incident.refresh_from_db()
    return incident.status == "monitoring"


def _dismiss(client: Any, incident: Incident, user: User) -> bool:
    client.post(
        reverse("incident_transition", args=[incident.pk]),
        {"to": "dismissed", "reason": "false alarm"},
    )
    incident.refresh_from_db()
    return incident.status == "dismissed"


def _lower(client: Any, incident: Incident, user: User) -> bool:
    client.post(
        reverse("incident_severity", args=[incident.pk]), {"severity": "minor", "reason": "smaller"}
    )
    incident.refresh_from_db()
    return incident.severity == "minor"


def _team(client: Any, incident: Incident, user: User) -> bool:
    client.post(
        reverse("incident_team_add", args=[incident.pk]),
        {"user": user.pk, "role": "member", "department": "pr"},
    )
    return TeamMember.objects.filter(incident=incident).exists()


def _milestone(client: Any, incident: Incident, user: User) -> bool:
    client.post(
        reverse("incident_milestone", args=[incident.pk]),
        {"kind": "initial_statement", "evidence_url": "https://weibo.com/x/1"},
    )
    return SlaMilestone.objects.filter(
        incident=incident, kind="initial_statement", met_at__isnull=False
    ).exists()


def _roster(client: Any, incident: Incident, user: User) -> bool:
    start = timezone.localtime() + timedelta(days=3)
    client.post(
        reverse("roster_shift_add"),
        {
            "user": user.pk,
            "position": "backup",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    return DutyShift.objects.exists()


ACTIONS = {
    "report": (_report, {A, D, M}),
    "acknowledge": (_ack, {D, M}),
    "dismiss": (_dismiss, {A, D, M}),
    "lower_severity": (_lower, {M}),
    "manage_team": (_team, {D, M}),
    "record_milestone": (_milestone, {D, M}),
    "edit_roster": (_roster, {M}),
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_ui_role_matrix(client: Any, db: Any, role: str | None, action: str) -> None:
    user = make_user(f"u_{role}", *([role] if role else []))
    assert client.login(username=user.username, password=PASSWORD)
    incident = open_incident(severity="moderate")
    do, allowed = ACTIONS[action]
    assert do(client, incident, user) == (role in allowed), (role, action)


@pytest.mark.parametrize("role", ["legal", "executive"])
def test_read_only_roles_see_no_action_buttons(client: Any, db: Any, role: str) -> None:
    make_user("reader", role)
    client.login(username="reader", password=PASSWORD)
    incident = open_incident()
    html = client.get(reverse("incident_detail", args=[incident.pk])).content.decode()
    assert 'id="ack-button"' not in html and 'name="to"' not in html
    assert 'action="/incidents/' not in html
