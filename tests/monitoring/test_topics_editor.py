"""The topic editor: inline syntax errors with their position, the live preview, hints."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from monitoring import services
from monitoring.detection import Signal
from monitoring.models import Topic
from tests.monitoring.watch_support import item, nlp_available  # noqa: F401

pytestmark = pytest.mark.django_db


def test_preview_shows_the_error_position_highlighted(client: Client, analyst) -> None:
    client.force_login(analyst)
    response = client.post("/monitoring/topics/preview/", {"query": "茶小满 AND (召回 OR"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "data-preview-error" in html
    # the span the parser blames is marked in the echoed query
    assert "<mark>" in html and "茶小满 AND (召回 OR" in html.replace("<mark>", "").replace(
        "</mark>", ""
    )


def test_save_with_error_is_refused_inline_with_position(client: Client, analyst) -> None:
    client.force_login(analyst)
    response = client.post(
        "/monitoring/topics/new/", {"name": "坏规则", "query": '茶小满 "召回', "enabled": "on"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-error-for="query"' in html
    assert "4" in html.split('data-error-for="query"')[1][:300]  # character 4: the quote
    assert not Topic.objects.exists()


def test_preview_lists_matches_with_counts_per_platform(client: Client, analyst) -> None:
    now = timezone.now()
    services.mentions_store(
        items=[
            item("1", "茶小满召回一批杯子", now),
            item("2", "茶小满召回门店", now, platform="douyin"),
            item("3", "茶小满很好喝", now),
            item("4", "<script>alert(1)</script>茶小满召回", now),
        ]
    )
    client.force_login(analyst)
    response = client.post(
        "/monitoring/topics/preview/", {"query": "茶小满 召回", "exclusions": "门店"}
    )
    html = response.content.decode()
    assert "data-preview-count" in html
    assert "2 of the last 4" in html or "最近 4 条" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_create_then_edit_topic_and_hints_from_dismissed_alerts(client: Client, analyst) -> None:
    client.force_login(analyst)
    response = client.post(
        "/monitoring/topics/new/",
        {
            "name": "茶小满",
            "query": "茶小满 OR 小满奶茶",
            "exclusions": "招聘",
            "platforms": ["weibo", "douyin"],
            "thresholds": '{"volume": {"min_volume": 20}}',
            "enabled": "on",
        },
    )
    topic = Topic.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/monitoring/topics/{topic.pk}/"
    assert topic.platforms == ["douyin", "weibo"] and topic.thresholds == {
        "volume": {"min_volume": 20}
    }
    bad = client.post(
        f"/monitoring/topics/{topic.pk}/edit/",
        {"name": "茶小满", "query": "茶小满", "thresholds": '{"volume": {"bogus": 1}}'},
    )
    assert bad.status_code == 400 and "bogus" in bad.content.decode()
    alert, _ = services.alert_raise(
        topic_id=topic.pk,
        signal=Signal(kind="volume_spike", score=1, metrics={}, reason="r", fingerprint="f"),
    )
    services.alert_dismiss(alert=alert, actor=analyst, reason="是抽奖转发，不是投诉")
    page = client.get(f"/monitoring/topics/{topic.pk}/edit/").content.decode()
    assert "是抽奖转发，不是投诉" in page


def test_outsider_cannot_edit_topics(client: Client, outsider, duty_officer) -> None:
    client.force_login(duty_officer)
    assert client.get("/monitoring/topics/new/").status_code == 403
    client.force_login(outsider)
    assert client.get("/monitoring/dashboard/").status_code == 403
