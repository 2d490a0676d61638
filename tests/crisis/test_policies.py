"""crisis.policies decides who may do what; the UI and the API ask it the same questions and
answer a refusal the same way."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from crisis import policies, services
from crisis.errors import ConflictError, ForbiddenError, IncidentError, ServiceError
from crisis.models import EscalationPolicy, Incident, UserProfile
from tests.conftest import PASSWORD
from tests.crisis.factories import open_incident
from tests.crisis.test_incident_api import call, token_for

pytestmark = pytest.mark.django_db


def test_every_refusal_is_a_service_error_with_its_status() -> None:
    assert issubclass(IncidentError, ServiceError) and IncidentError.status_code == 400
    assert issubclass(ConflictError, IncidentError) and ConflictError.status_code == 409
    assert ForbiddenError.status_code == 403


def test_require_names_the_roles_that_may(analyst: User, manager: User) -> None:
    policies.require(manager, "lower_severity")
    with pytest.raises(ForbiddenError):
        policies.require(analyst, "lower_severity")


def test_lowering_severity_needs_the_capability_in_ui_and_api(
    client: Any, analyst: User, manager: User
) -> None:
    incident = open_incident(severity="severe")
    services.incident_acknowledge(incident=incident, actor=manager)
    with pytest.raises(ForbiddenError):
        policies.require_severity_change(analyst, incident=incident, severity="minor")
    policies.require_severity_change(analyst, incident=incident, severity="severe")
    policies.require_severity_change(manager, incident=incident, severity="minor")

    body = {"to": "assessed", "severity": "minor", "affected_platforms": ["weibo"]}
    api = call(client, "post", f"/incidents/{incident.pk}/transition", token_for(analyst), body)
    assert api.status_code == 403 and api.json()["error"]

    client.login(username=analyst.username, password=PASSWORD)
    ui = client.post(reverse("incident_transition", args=[incident.pk]), body)
    assert ui.status_code == 403
    incident.refresh_from_db()
    assert incident.status == "monitoring" and incident.severity == "severe"


def test_api_answers_a_conflict_with_409(client: Any, duty_officer: User) -> None:
    incident = open_incident()
    token = token_for(duty_officer)
    assert call(client, "post", f"/incidents/{incident.pk}/acknowledge", token).status_code == 200
    again = call(client, "post", f"/incidents/{incident.pk}/acknowledge", token)
    assert again.status_code == 409 and again.json()["error"]


def test_pages_that_only_show_do_not_write(client: Any, manager: User) -> None:
    """The roster, the escalation-policy page and the profile read; the POST writes."""
    client.login(username=manager.username, password=PASSWORD)
    for name in ("roster", "escalation_policy", "profile"):
        assert client.get(reverse(name)).status_code == 200
    assert not EscalationPolicy.objects.exists()
    assert not UserProfile.objects.exists()
    assert not Incident.objects.exists()
