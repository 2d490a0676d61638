"""In Chromium, on the running stack (live server + a real Celery worker on Redis): posts
pushed through the webhook make an alert appear in the queue and an incident on the board
without a reload, and the duty officer acknowledges the alert."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from django.utils import timezone

from monitoring import services
from monitoring.models import Alert, Source
from tests.conftest import browser_login, make_user, wait_until

pytestmark = [pytest.mark.browser]

TOKEN = "browser-test-token-0123456789"


def push(base_url: str, posts: list[dict[str, Any]]) -> int:
    request = urllib.request.Request(
        f"{base_url}/api/v1/sources/collector/mentions",
        data=json.dumps({"items": posts}, ensure_ascii=False).encode("utf-8"),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_pushed_burst_alerts_opens_incident_and_is_acknowledged(
    live_server: Any, transactional_db: Any, celery_worker_process: Any, browser: Any
) -> None:
    make_user("duty", "duty_officer")
    source, _token = services.source_create(
        name="采集器", slug="collector", kind=Source.Kind.WEBHOOK, platform="weibo"
    )
    services.source_set_token(source=source, token=TOKEN)
    services.topic_create(name="茶小满", query="茶小满")
    worker = celery_worker_process()

    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(30_000)
    queue, board = context.new_page(), context.new_page()
    browser_login(queue, live_server.url, "duty")
    queue.goto(f"{live_server.url}/monitoring/alerts/")
    board.goto(f"{live_server.url}/incidents/")
    assert queue.locator("[data-alert]").count() == 0

    now = timezone.now().isoformat()
    posts = [
        {
            "external_id": f"burst-{i}",
            "platform": "weibo",
            "text": f"茶小满第{i}号门店喝出异物<script>alert(1)</script>，投诉无门",
            "posted_at": now,
            "author": {"name": f"苦主{i}", "followers": 50},
        }
        for i in range(59)
    ] + [
        {
            "external_id": "rumour",
            "platform": "weibo",
            "text": "曝茶小满多家门店被市场监管局查封，用的都是过期原料",
            "posted_at": now,
            "author": {"name": "内幕爆料哥", "followers": 236000},
        }
    ]
    assert push(live_server.url, posts) == 202

    # no reload: the queue and the board poll
    try:
        queue.locator("[data-alert]").first.wait_for(timeout=45_000)
        board.locator("table.board tbody tr[data-incident]").first.wait_for(timeout=45_000)
    except Exception:
        print(worker.output()[-4000:])
        raise
    assert queue.locator("script:has-text('alert(1)')").count() == 0
    alert = Alert.objects.order_by("first_seen_at").first()
    assert alert is not None and alert.incident_id is not None

    item = queue.locator(f"#alert-{alert.pk}")
    item.locator("button[data-action=ack]").click()
    wait_until(lambda: Alert.objects.get(pk=alert.pk).status == "acknowledged", timeout=15)
    queue.locator(f"#alert-{alert.pk}[data-status=acknowledged]").wait_for()
    assert Alert.objects.get(pk=alert.pk).acknowledged_by.username == "duty"
    context.close()
