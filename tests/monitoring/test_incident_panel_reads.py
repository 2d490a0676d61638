"""The incident panel only reads: the repost tree is stored by the refresh task, not by a GET."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from monitoring import services
from monitoring.models import IncidentPropagation
from tests.monitoring.test_incident_panel import incident_with_cascade  # noqa: F401
from tests.monitoring.watch_support import nlp_available  # noqa: F401

pytestmark = pytest.mark.django_db


def test_panel_get_writes_nothing_and_shows_the_stored_tree(
    client: Any,
    analyst: User,
    incident_with_cascade: Any,  # noqa: F811
) -> None:
    url = reverse("monitoring_incident_panel", kwargs={"incident_id": incident_with_cascade.pk})
    client.force_login(analyst)
    IncidentPropagation.objects.filter(incident=incident_with_cascade).delete()
    first = client.get(url)
    assert first.status_code == 200 and 'class="spreaders"' not in first.content.decode()
    assert not IncidentPropagation.objects.filter(incident=incident_with_cascade).exists()
    services.incident_propagation_refresh(incident_id=incident_with_cascade.pk)
    html = client.get(url).content.decode()
    assert 'class="spreaders"' in html and "爆料君" in html
    assert IncidentPropagation.objects.filter(incident=incident_with_cascade).count() == 1
