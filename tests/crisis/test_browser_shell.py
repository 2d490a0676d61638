"""The UI shell in a real Chromium: Chinese by default, English on request, logout."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def live_analyst(transactional_db: Any) -> User:
    return make_user("analyst", "analyst")


def test_analyst_logs_in_sees_chinese_switches_to_english_and_logs_out(
    live_server: Any, page: Any, live_analyst: User
) -> None:
    base = live_server.url
    page.goto(f"{base}/")
    assert "/accounts/login/" in page.url  # anonymous users land on login
    assert page.get_by_role("heading", name="登录烽火").is_visible()

    browser_login(page, base, "analyst")
    nav = page.get_by_role("navigation", name="主导航")
    for label in ("监测", "事件", "响应", "复盘"):
        assert nav.get_by_role("link", name=label).is_visible()
    assert page.get_by_text("舆情分析师").is_visible()  # the user's role
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    page.get_by_label("语言").select_option("en")  # auto-submits through fenghuo.js
    page.wait_for_function("document.documentElement.lang === 'en'")
    nav = page.get_by_role("navigation", name="Main")
    for label in ("Monitoring", "Incidents", "Response", "Review"):
        assert nav.get_by_role("link", name=label).is_visible()
    assert page.get_by_text("PR analyst").is_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/accounts/login/")
    page.goto(f"{base}/monitoring/")
    assert "/accounts/login/" in page.url


def test_pages_load_no_inline_script_and_send_csp(
    live_server: Any, page: Any, live_analyst: User
) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    response = page.goto(f"{live_server.url}/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    browser_login(page, live_server.url, "analyst")
    page.goto(f"{live_server.url}/team/")
    assert page.get_by_role("table").is_visible()
    assert violations == []


def test_phone_viewport_keeps_navigation_reachable(
    live_server: Any, browser: Any, live_analyst: User
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN")
    page = context.new_page()
    try:
        browser_login(page, live_server.url, "analyst")
        nav = page.get_by_role("navigation", name="主导航")
        assert nav.get_by_role("link", name="事件").is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 1  # no sideways scrolling on a phone
    finally:
        context.close()
