"""The monitoring dashboard and topic page, from the rollups."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from monitoring import services
from tests.monitoring.watch_support import item, nlp_available  # noqa: F401

pytestmark = pytest.mark.django_db


def test_dashboard_shows_rate_and_polls_cheaply(
    client: Client, analyst, django_assert_max_num_queries
) -> None:
    topic = services.topic_create(name="茶小满", query="茶小满")
    now = timezone.now()
    services.mentions_store(
        items=[item(f"d{i}", f"茶小满 {i} 投诉", now) for i in range(10)], detect=False
    )
    client.force_login(analyst)
    html = client.get("/monitoring/dashboard/").content.decode()
    assert f'data-topic="{topic.pk}"' in html and "<svg" in html and "data-rate>2.0<" in html
    token = html.split("token=")[1].split('"')[0]
    with django_assert_max_num_queries(8):
        assert client.get(f"/monitoring/dashboard/panel/?token={token}").status_code == 204
    services.mentions_store(items=[item("new", "茶小满 新的一条", now)], detect=False)
    assert client.get(f"/monitoring/dashboard/panel/?token={token}").status_code == 200


def test_topic_page_has_charts_keywords_and_top_posts(client: Client, analyst) -> None:
    topic = services.topic_create(name="茶小满", query="茶小满")
    now = timezone.now()
    services.mentions_store(
        items=[
            item("big", "茶小满 大号发声", now, author_followers=900_000),
            item("s", "茶小满 小号", now),
        ]
    )
    client.force_login(analyst)
    response = client.get(f"/monitoring/topics/{topic.pk}/?range=24h")
    html = response.content.decode()
    assert response.status_code == 200 and html.count("<svg") >= 3
    posts = html.split("mention-list")[1]
    assert posts.index("大号发声") < posts.index("茶小满 小号")
    assert client.get("/monitoring/topics/999/").status_code == 404
