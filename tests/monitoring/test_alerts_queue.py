"""The alert queue page and its actions: acknowledge, dismiss, attach, open."""

from __future__ import annotations

import pytest
from django.test import Client

from crisis.models import Incident
from monitoring import services
from monitoring.detection import Signal
from monitoring.models import Alert
from tests.monitoring.watch_support import nlp_available  # noqa: F401

pytestmark = pytest.mark.django_db


def raise_alert(topic, fp: str = "volume_spike:1", reason: str = "40 posts/min") -> Alert:
    alert, _ = services.alert_raise(
        topic_id=topic.pk,
        signal=Signal(kind="volume_spike", score=2, metrics={}, reason=reason, fingerprint=fp),
    )
    return alert


@pytest.fixture
def topic():
    return services.topic_create(name="茶小满<b>", query="茶小满")


def test_queue_lists_escaped_and_polls_with_token(client: Client, analyst, topic) -> None:
    raise_alert(topic, reason="<img src=x onerror=alert(1)>")
    client.force_login(analyst)
    page = client.get("/monitoring/alerts/")
    html = page.content.decode()
    assert page.status_code == 200 and "data-alert=" in html
    assert "<img src=x" not in html and "茶小满&lt;b&gt;" in html
    token = html.split("token=")[1].split('"')[0]
    assert client.get(f"/monitoring/alerts/panel/?status=&token={token}").status_code == 204
    raise_alert(topic, fp="other")
    assert client.get(f"/monitoring/alerts/panel/?status=&token={token}").status_code == 200


def test_duty_officer_acknowledges_with_htmx(client: Client, duty_officer, topic) -> None:
    alert = raise_alert(topic)
    client.force_login(duty_officer)
    response = client.post(f"/monitoring/alerts/{alert.pk}/ack/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="alert-queue"' in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by == duty_officer
    again = client.post(f"/monitoring/alerts/{alert.pk}/ack/", HTTP_HX_REQUEST="true")
    assert again.status_code == 400


def test_dismiss_needs_a_reason_and_attach_and_open(client: Client, analyst, topic) -> None:
    alert = raise_alert(topic)
    client.force_login(analyst)
    assert client.post(f"/monitoring/alerts/{alert.pk}/dismiss/", {"reason": ""}).status_code == 302
    alert.refresh_from_db()
    assert alert.status == "new"
    other = raise_alert(topic, fp="second")
    assert other.incident_id == alert.incident_id
    opened = client.post(f"/monitoring/alerts/{other.pk}/open/")
    assert opened.status_code == 302 and Incident.objects.count() == 2
    other.refresh_from_db()
    assert other.incident_id != alert.incident_id
    client.post(f"/monitoring/alerts/{other.pk}/attach/", {"incident": alert.incident_id})
    other.refresh_from_db()
    assert other.incident_id == alert.incident_id
    assert (
        client.post(f"/monitoring/alerts/{other.pk}/attach/", {"incident": "999999"}).status_code
        == 302
    )
    client.post(f"/monitoring/alerts/{alert.pk}/dismiss/", {"reason": "广告，不是投诉"})
    alert.refresh_from_db()
    assert alert.status == "dismissed" and alert.dismiss_reason == "广告，不是投诉"
    assert client.post(f"/monitoring/alerts/{alert.pk}/bogus/").status_code == 302


def test_viewer_without_triage_cannot_act(client: Client, legal, topic) -> None:
    alert = raise_alert(topic)
    client.force_login(legal)
    assert client.get("/monitoring/alerts/").status_code == 200
    assert client.post(f"/monitoring/alerts/{alert.pk}/ack/").status_code == 403
