"""Monitoring's panel on the incident page, and the repost tree from //@ chains through
stored mentions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crisis.panels import incident_panels
from monitoring import services
from monitoring.detection import Signal
from monitoring.models import IncidentPropagation, Mention
from tests.monitoring.watch_support import item, nlp_available  # noqa: F401

pytestmark = pytest.mark.django_db

ORIGINAL = "茶小满被曝使用过期原料，门店已被查封"


@pytest.fixture
def incident_with_cascade():
    topic = services.topic_create(name="茶小满", query="茶小满")
    now = timezone.now()
    posts = [
        item(
            "root",
            ORIGINAL,
            now - timedelta(minutes=10),
            author_name="爆料君",
            author_followers=50_000,
        ),
        item(
            "a",
            f"真的假的//@爆料君:{ORIGINAL}",
            now - timedelta(minutes=8),
            author_name="大V甲",
            author_followers=2_000_000,
        ),
        item(
            "b",
            f"转发微博//@大V甲:真的假的//@爆料君:{ORIGINAL}",
            now - timedelta(minutes=6),
            author_name="路人乙",
            author_followers=300,
        ),
        item(
            "c",
            f"吓人//@大V甲:真的假的//@爆料君:{ORIGINAL}",
            now - timedelta(minutes=5),
            author_name="路人丙",
            author_followers=200,
        ),
        item(
            "d",
            f"<script>x</script>//@路人乙:转发微博//@大V甲:真的假的//@爆料君:{ORIGINAL}",
            now - timedelta(minutes=4),
            author_name="路人丁",
            author_followers=10,
        ),
    ]
    services.mentions_store(items=posts, detect=False)
    alert, _ = services.alert_raise(
        topic_id=topic.pk,
        signal=Signal(kind="volume_spike", score=2, metrics={}, reason="burst", fingerprint="v"),
        evidence_ids=list(Mention.objects.values_list("pk", flat=True)),
    )
    return alert.incident


def test_repost_tree_from_chains_through_stored_mentions(incident_with_cascade) -> None:
    row = services.incident_propagation_refresh(incident_id=incident_with_cascade.pk)
    summary = row.summary
    assert row.mention_count == 5
    assert summary["depth"] == 3 and summary["breadth"] == [1, 1, 2, 1]
    top = summary["key_spreaders"][0]
    assert top["author_name"] == "爆料君"
    assert IncidentPropagation.objects.filter(incident=incident_with_cascade).exists()


def test_panel_is_registered_and_renders_escaped(
    client: Client, analyst, incident_with_cascade
) -> None:
    url = reverse("monitoring_incident_panel", kwargs={"incident_id": incident_with_cascade.pk})
    assert any(p.url == url for p in incident_panels(incident_id=incident_with_cascade.pk))
    client.force_login(analyst)
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in html and "爆料君" in html and 'data-signal="negative_volume"' in html
    assert "<script>x</script>" not in html
    assert (
        client.get(reverse("monitoring_incident_panel", kwargs={"incident_id": 999999})).status_code
        == 404
    )
