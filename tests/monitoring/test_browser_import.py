"""In Chromium: an analyst imports a file and sees the mentions in the stream, the negative
ones marked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import browser_login, make_user

pytestmark = [pytest.mark.browser]

POSTS = [
    ("b1", "茶小满的新品杨枝甘露太好喝了，店员也很热情，强烈推荐！"),
    ("b2", "茶小满奶茶里喝出了异物，找门店投诉还被甩脸色，再也不去了，太恶心了"),
    ("b3", "<script>alert('x')</script>茶小满外卖送了一个小时，奶茶全洒了，差评"),
]


def test_analyst_imports_a_file_and_sees_negative_mentions_marked(
    live_server: Any, transactional_db: Any, page: Any, tmp_path: Path
) -> None:
    make_user("analyst", "analyst")
    path = tmp_path / "mentions.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "external_id": eid,
                    "platform": "weibo",
                    "text": text,
                    "posted_at": "2026-11-24T10:00:00+08:00",
                    "author": {"name": f"网友{eid}"},
                    "url": "javascript:alert(1)" if eid == "b3" else f"https://weibo.com/1/{eid}",
                },
                ensure_ascii=False,
            )
            for eid, text in POSTS
        )
        + "\n{broken json\n",
        encoding="utf-8",
    )
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    browser_login(page, live_server.url, "analyst")
    page.goto(f"{live_server.url}/monitoring/import/")
    page.locator("input[type=file]").set_input_files(str(path))
    page.locator("form.import-form button[type=submit]").click()
    result = page.locator("#import-result")
    result.wait_for()
    assert result.locator('[data-count="created"]').inner_text() == "3"
    assert result.locator('[data-count="rejected"]').inner_text() == "1"
    assert result.locator("tbody tr").count() == 1  # the broken line, with its reason

    page.locator("#import-result a.btn").click()
    page.wait_for_url("**/monitoring/?batch=*")
    mentions = page.locator("article.mention")
    assert mentions.count() == 3
    negative = page.locator('article.mention[data-polarity="negative"]')
    assert negative.count() >= 1
    marked_texts = " ".join(negative.all_inner_texts())
    assert "异物" in marked_texts or "差评" in marked_texts
    assert negative.first.locator(".pol-badge-negative").is_visible()
    # hostile text is shown as text, never run; a javascript: URL is never a link
    # (the parser layer strips markup from text; what is left is escaped by the template)
    assert page.locator("article.mention script").count() == 0
    assert page.locator('a[href^="javascript:"]').count() == 0
    assert dialogs == []

    # the analyst corrects one mention in place (htmx), and the mark follows
    positive = page.locator('article.mention:has-text("杨枝甘露")')
    positive.locator("summary").click()
    positive.locator('select[name="polarity"]').select_option("negative")
    positive.locator("button[type=submit]").click()
    corrected = page.locator('article.mention:has-text("杨枝甘露")')
    corrected.locator(".pol-badge-negative").wait_for()
    assert corrected.get_attribute("data-polarity") == "negative"
