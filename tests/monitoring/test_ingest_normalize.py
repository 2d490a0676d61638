"""normalize_record on the normalized shape, and the field rules every shape shares."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitoring.ingest import (
    MAX_TEXT_CHARS,
    ItemError,
    NormalizedItem,
    detect_shape,
    normalize_record,
)
from monitoring.ingest.timeparse import SHANGHAI

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=SHANGHAI)
REPO = Path(__file__).resolve().parents[2]


def record(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "external_id": "4231265311393455",
        "platform": "weibo",
        "text": "云朵咖啡门店饮品里喝出塑料片，店员还说正常",
        "url": "https://weibo.com/6012345678/Qd7lV5Qv5",
        "posted_at": "2026-11-24T10:00:00+08:00",
        "author": {
            "id": "6012345678",
            "name": "杭州吃喝小分队",
            "followers": 12345,
            "verified": True,
        },
        "metrics": {"reposts": 3, "comments": 10, "likes": 42, "views": None},
        "parent_id": None,
        "root_id": None,
        "location": "广东",
    }
    base.update(overrides)
    return base


def test_package_imports_without_django_configured() -> None:
    code = (
        "import sys, monitoring.ingest as m; "
        "assert 'django' not in sys.modules, 'django was imported'; print(len(m.__all__))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_normalized_shape_maps_every_field() -> None:
    item = normalize_record(record(), now=NOW)
    assert item == NormalizedItem(
        external_id="4231265311393455",
        platform="weibo",
        text="云朵咖啡门店饮品里喝出塑料片，店员还说正常",
        posted_at=datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI),
        url="https://weibo.com/6012345678/Qd7lV5Qv5",
        author_id="6012345678",
        author_name="杭州吃喝小分队",
        author_followers=12345,
        author_verified=True,
        reposts=3,
        comments=10,
        likes=42,
        views=None,
        location="广东",
    )
    assert item.raw["external_id"] == "4231265311393455"


def test_to_dict_is_the_documented_shape_and_round_trips() -> None:
    item = normalize_record(record(), now=NOW)
    data = item.to_dict()
    assert data["posted_at"] == "2026-11-24T10:00:00+08:00"
    assert data["author"] == {
        "id": "6012345678",
        "name": "杭州吃喝小分队",
        "followers": 12345,
        "verified": True,
    }
    assert data["metrics"] == {"reposts": 3, "comments": 10, "likes": 42, "views": None}
    assert normalize_record(data, now=NOW) == item


def test_flat_keys_are_accepted_for_csv_style_records() -> None:
    flat = {
        "external_id": "c-1",
        "text": "扁平字段",
        "posted_at": "2026-11-24 10:00:00",
        "author_name": "小鹿",
        "author_followers": "3,456",
        "author_verified": "true",
        "likes": "7",
    }
    item = normalize_record(flat, default_platform="news", now=NOW)
    assert (item.platform, item.author_name, item.author_followers) == ("news", "小鹿", 3456)
    assert item.author_verified is True
    assert item.likes == 7


def test_missing_platform_uses_the_default_and_aliases_are_understood() -> None:
    rec = record()
    del rec["platform"]
    assert normalize_record(rec, default_platform="forum", now=NOW).platform == "forum"
    assert normalize_record(record(platform="小红书"), now=NOW).platform == "xiaohongshu"
    with pytest.raises(ItemError, match="platform 'tiktok' is not one of"):
        normalize_record(record(platform="tiktok"), now=NOW)


def test_id_is_accepted_instead_of_external_id_when_posted_at_is_present() -> None:
    rec = {"id": 42, "text": "通用 JSON", "posted_at": "2026-11-24 10:00"}
    assert detect_shape(rec) == "normalized"
    assert normalize_record(rec, now=NOW).external_id == "42"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("text", None, "text is missing"),
        ("text", "   \n\t ", "text is empty"),
        ("text", 123, "text must be a string, got int"),
        ("text", "<p> <br> </p>", "text is empty"),
        ("external_id", None, "external_id is missing"),
        ("external_id", ["x"], "external_id must be a string or integer, got list"),
        ("external_id", True, "external_id must be a string or integer, got bool"),
        ("external_id", "x" * 200, "external_id is longer than 128"),
        ("posted_at", None, "posted_at is missing"),
        ("posted_at", "yesterday-ish", "posted_at is not a recognised date/time"),
        ("posted_at", {"a": 1}, "posted_at must be a date/time string or epoch number, got dict"),
        ("author", "someone", "author must be an object, got str"),
        ("metrics", [1, 2], "metrics must be an object, got list"),
        ("url", 5, "url must be a string, got int"),
        ("location", {"p": 1}, "location must be a string, got dict"),
    ],
)
def test_bad_fields_raise_item_error_naming_the_field(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ItemError, match=message):
        normalize_record(record(**{field: value}), now=NOW)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, 42),
        ("42", 42),
        (" 1,234 ", 1234),
        ("1.2万", 12000),
        ("3.5w", 35000),
        ("2k", 2000),
        ("1.5K", 1500),
        ("10万+", 100000),
        ("1.2亿", 120000000),
        ("", None),
        ("None", None),
        ("-", None),
        (None, None),
        (7.0, 7),
    ],
)
def test_counts_accept_the_formats_crawlers_write(value: object, expected: int | None) -> None:
    item = normalize_record(record(metrics={"likes": value}), now=NOW)
    assert item.likes == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "metrics.likes is negative"),
        ("-5", "metrics.likes is negative"),
        ("lots", "metrics.likes is not a count"),
        (True, "metrics.likes must be a number, got bool"),
        (2.5, "metrics.likes must be a whole number"),
        (float("nan"), "metrics.likes must be a whole number"),
        (2**64, "metrics.likes is too large"),
        ([3], "metrics.likes must be a number, got list"),
    ],
)
def test_bad_counts_are_rejected(value: object, message: str) -> None:
    with pytest.raises(ItemError, match=message):
        normalize_record(record(metrics={"likes": value}), now=NOW)


def test_html_is_reduced_to_plain_text() -> None:
    html = (
        "<div><p>第一段&amp;更多&lt;内容&gt;</p><script>document.location='https://evil'"
        "</script><style>p{color:red}</style><!-- 注释 -->第二段"
        '<img src="https://img.example.com/1.jpg"><img alt="[哭]" src="x.png"></div>'
    )
    item = normalize_record(record(text=html), now=NOW)
    assert item.text == "第一段&更多<内容>\n第二段[哭]"


def test_unclosed_script_drops_everything_after_it() -> None:
    item = normalize_record(record(text="可见内容<script>alert(1) 后面全是脚本"), now=NOW)
    assert item.text == "可见内容"


def test_plain_text_with_angle_brackets_is_kept() -> None:
    item = normalize_record(record(text="价格<100元 且 3>2，爱心<3"), now=NOW)
    assert item.text == "价格<100元 且 3>2，爱心<3"


def test_control_characters_and_nul_are_stripped_but_newlines_and_tabs_kept() -> None:
    text = "第一行\x00\r\n第二行\t制表\x07\x1b[31m\u202e反转\ufeff"
    item = normalize_record(record(text=text), now=NOW)
    assert item.text == "第一行\n第二行\t制表[31m反转"


def test_nul_and_lone_surrogates_are_removed_from_raw_too() -> None:
    rec = record(text="正文\x00", location="广\ud800东", extra={"k\x00": ["v\x00"]})
    item = normalize_record(rec, now=NOW)
    assert item.location == "广东"
    assert item.raw["extra"] == {"k": ["v"]}
    assert "\x00" not in item.raw["text"]


def test_text_is_capped_at_max_text_chars() -> None:
    item = normalize_record(record(text="长" * (MAX_TEXT_CHARS + 500)), now=NOW)
    assert len(item.text) == MAX_TEXT_CHARS


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "weibo.com/123/abc",
        "http://",
        "https://exa mple.com/",
        "http://[::1",
    ],
)
def test_only_http_urls_are_kept(url: str) -> None:
    assert normalize_record(record(url=url), now=NOW).url is None


def test_protocol_relative_urls_become_https() -> None:
    item = normalize_record(record(url="//weibo.com/1/abc"), now=NOW)
    assert item.url == "https://weibo.com/1/abc"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-24T10:00:00+08:00", datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        ("2026-11-24T02:00:00Z", datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        ("2026-11-24 10:00:00", datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        ("2026-11-24 10:00", datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        ("2026/11/24 10:00:00", datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=SHANGHAI)),
        ("Tue Nov 24 10:00:00 +0800 2026", datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        ("Tue, 24 Nov 2026 02:00:00 GMT", datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        ("2026年11月24日 10:00", datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        (1795485600, datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        (1795485600000, datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        ("1795485600", datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        ("1795485600000", datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)),
        (1795485600.5, datetime(2026, 11, 24, 10, 0, 0, 500000, tzinfo=SHANGHAI)),
    ],
)
def test_time_formats(value: object, expected: datetime) -> None:
    posted_at = normalize_record(record(posted_at=value), now=NOW).posted_at
    assert posted_at == expected
    assert posted_at.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "is before 2000-01-01"),
        ("1970-01-01 08:00:00", "is before 2000-01-01"),
        ("1999-12-31T23:59:59+08:00", "is before 2000-01-01"),
        (-1, "is before 2000-01-01"),
        (10**30, "is more than 1 day in the future"),
        ("9999-12-31T23:59:59", "is more than 1 day in the future"),
        ("2026-11-26T12:00:01+08:00", "is more than 1 day in the future"),
        (float("inf"), "is not a finite number"),
        ("2026-02-30 10:00:00", "is not a recognised date/time"),
        ("Tue Foo 24 10:00:00 +0800 2026", "not a"),
    ],
)
def test_absurd_timestamps_are_rejected(value: object, message: str) -> None:
    with pytest.raises(ItemError, match=message):
        normalize_record(record(posted_at=value), now=NOW)


def test_one_day_in_the_future_is_still_accepted_against_the_given_now() -> None:
    almost = (NOW + timedelta(hours=23)).isoformat()
    assert normalize_record(record(posted_at=almost), now=NOW).posted_at > NOW


def test_now_defaults_to_the_real_clock() -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    with pytest.raises(ItemError, match="future"):
        normalize_record(record(posted_at=future))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("发布于 广东", "广东"), ("IP属地：四川", "四川"), ("来自北京", "北京"), ("", None)],
)
def test_location_prefixes_are_removed(value: str, expected: str | None) -> None:
    assert normalize_record(record(location=value), now=NOW).location == expected


def test_deeply_nested_records_are_rejected() -> None:
    nested: dict[str, object] = {}
    current = nested
    for _ in range(100):
        current["x"] = {}
        current = current["x"]  # type: ignore[assignment]
    with pytest.raises(ItemError, match="nested more than 32 levels"):
        normalize_record(record(extra=nested), now=NOW)


def test_record_must_be_an_object() -> None:
    with pytest.raises(ItemError, match="record must be a JSON object, got list"):
        normalize_record(["external_id"], now=NOW)


def test_unknown_shapes_list_the_keys_seen() -> None:
    with pytest.raises(ItemError, match=r"unrecognised record shape.*keys seen: body, when"):
        normalize_record({"body": "x", "when": "y"}, now=NOW)


def test_items_are_hashable_and_equal_ignoring_raw() -> None:
    a = normalize_record(record(), now=NOW)
    b = normalize_record({**record(), "junk": 1}, now=NOW)
    assert a == b
    assert len({a, b}) == 1
    assert a.key == ("weibo", "4231265311393455")
