"""In Chromium: the duty officer's board updates live, one click acknowledges, the
30-minute milestone shows met, and the countdown ticks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from crisis import services
from crisis.models import DutyShift
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def live_duty(transactional_db: Any) -> User:
    user = make_user("duty", "duty_officer")
    now = timezone.now()
    DutyShift.objects.create(
        user=user, position="primary", start=now - timedelta(hours=1), end=now + timedelta(hours=23)
    )
    return user


def test_duty_officer_sees_new_incident_live_and_acknowledges_it(
    live_server: Any, page: Any, live_duty: User
) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    browser_login(page, live_server.url, "duty")
    page.goto(f"{live_server.url}/incidents/")
    assert page.get_by_role("heading", name="事件看板").is_visible()
    page.evaluate("document.body.dataset.marker = 'no-reload'")

    incident = services.incident_open(title="小红书笔记：产品过敏投诉", summary="多名用户反映")
    row = page.locator(f'tr[data-incident="{incident.pk}"]')
    row.wait_for(timeout=20_000)  # arrives through the polled panel
    assert page.evaluate("document.body.dataset.marker") == "no-reload"
    countdown = row.locator("time[data-countdown]")
    first = countdown.inner_text()
    page.wait_for_function(
        "([el, first]) => el.textContent !== first", arg=[countdown.element_handle(), first]
    )
    assert countdown.inner_text() != first  # it ticks in the browser

    with page.expect_navigation():  # one click: htmx posts, the page reloads
        row.get_by_role("button", name="确认").click()
    page.get_by_text(f"事件 #{incident.pk} 已确认接警。").wait_for()
    assert row.get_by_role("button", name="确认").count() == 0
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    milestone = page.locator("#milestone-monitoring_started")
    assert milestone.get_attribute("data-state") == "met"
    assert "已完成" in milestone.inner_text()
    assert page.locator("#incident-status").inner_text() == "监测中"
    # the page in the bell's notification centre
    assert page.locator("#notification-bell [data-unread]").inner_text() == "1"
    assert violations == []
