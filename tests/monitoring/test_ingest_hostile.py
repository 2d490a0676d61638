"""Property-based: junk in, only PayloadError / ItemError out, and clean items when accepted."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.ingest import (
    MAX_TEXT_CHARS,
    PLATFORMS,
    ItemError,
    NormalizedItem,
    PayloadError,
    normalize_record,
    parse_payload,
    simhash64,
)
from monitoring.ingest.timeparse import SHANGHAI

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=SHANGHAI)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

KNOWN_KEYS = [
    "external_id", "platform", "text", "url", "posted_at", "author", "metrics", "parent_id",
    "root_id", "location", "title", "id", "bid", "idstr", "mid", "user_id", "screen_name",
    "created_at", "full_created_at", "attitudes_count", "comments_count", "reposts_count",
    "retweet", "retweeted_status", "user", "text_raw", "region_name", "note_id", "aweme_id",
    "comment_id", "content", "desc", "liked_count", "comment_count", "share_count",
    "create_time", "time", "create_date_time", "ip_location", "nickname", "creator_hash",
    "note_url", "aweme_url", "正文", "完整日期", "转发数", "点赞数", "源微博id", "源微博正文",
    "author_name", "likes", "followers_count", "verified",
]  # fmt: skip

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "2026-11-24 10:00:00",
            "Tue Nov 24 10:00:00 +0800 2026",
            "1795485600000",
            "1.2万",
            "-3",
            "javascript:alert(1)",
            "https://weibo.com/1/Qd7lV5Qv5",
            "<script>x</script>",
            "\x00",
            "\ud800",
            "",
        ]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10) | st.sampled_from(KNOWN_KEYS), children, max_size=5)
    ),
    max_leaves=25,
)
records = st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values, min_size=1, max_size=12)


def assert_clean(item: NormalizedItem) -> None:
    assert item.platform in PLATFORMS
    assert item.text and item.text == item.text.strip()
    assert len(item.text) <= MAX_TEXT_CHARS
    assert not FORBIDDEN_CHARS.search(item.text)
    assert item.external_id and not FORBIDDEN_CHARS.search(item.external_id)
    assert item.url is None or re.match(r"(?i)https?://", item.url)
    assert item.posted_at.tzinfo is not None
    for count in (item.reposts, item.comments, item.likes, item.views, item.author_followers):
        assert count is None or 0 <= count < 2**63
    json.dumps(item.to_dict(), ensure_ascii=False).encode("utf-8")  # storable
    json.dumps(item.raw, ensure_ascii=False, allow_nan=True).encode("utf-8")
    simhash64(item.text)


def parse_or_payload_error(data: bytes, **kwargs: Any) -> None:
    try:
        result = parse_payload(data, now=NOW, **kwargs)
    except PayloadError as exc:
        assert str(exc)
        return
    for item in result.items:
        assert_clean(item)
    for rejection in result.rejected:
        assert rejection.error


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    parse_or_payload_error(data)


@SETTINGS
@given(json_values, st.sampled_from([None, "x.jsonl", "x.csv", "x.json"]))
def test_random_json_documents(value: Any, filename: str | None) -> None:
    data = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    parse_or_payload_error(data, filename=filename)


@SETTINGS
@given(records)
def test_random_records_with_known_keys_and_wrong_types(record: dict[str, Any]) -> None:
    try:
        item = normalize_record(record, now=NOW)
    except ItemError as exc:
        assert str(exc)
        return
    assert_clean(item)


@SETTINGS
@given(st.lists(records, max_size=5))
def test_random_batches(batch: list[dict[str, Any]]) -> None:
    data = json.dumps({"items": batch}, ensure_ascii=False).encode("utf-8", "surrogatepass")
    parse_or_payload_error(data)
    lines = "\n".join(json.dumps(r) for r in batch).encode()
    parse_or_payload_error(lines, filename="batch.jsonl")


XML_PIECES = [
    '<?xml version="1.0"?>',
    '<?xml version="1.0" encoding="GB18030"?>',
    '<rss version="2.0">',
    "</rss>",
    "<channel>",
    "</channel>",
    "<item>",
    "</item>",
    "<title>",
    "</title>",
    "<description>",
    "</description>",
    "<guid>",
    "</guid>",
    "<link>https://weibo.com/1/Qd7lV5Qv5</link>",
    "<pubDate>Tue, 24 Nov 2026 03:40:00 GMT</pubDate>",
    "<![CDATA[<script>x</script><img src=x>]]>",
    '<!DOCTYPE r [<!ENTITY a "aaaa">]>',
    '<!ENTITY x SYSTEM "file:///etc/passwd">',
    "&a;",
    "&amp;",
    "&#0;",
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    "</feed>",
    "<entry>",
    "</entry>",
    "云朵咖啡",
    "<",
    ">",
]


@SETTINGS
@given(st.lists(st.sampled_from(XML_PIECES) | st.text(max_size=8), max_size=30))
def test_random_xmlish_documents(pieces: list[str]) -> None:
    text = "".join(pieces)
    parse_or_payload_error(text.encode("utf-8", "surrogatepass"))
    parse_or_payload_error(text.encode("utf-8", "surrogatepass"), fmt="rss")


CSV_HEADERS = [
    "external_id,platform,text,posted_at,likes,url",
    "id,bid,正文,点赞数,评论数,转发数,完整日期,源微博id,源微博正文",
    "note_id,content,desc,title,time,liked_count,note_url",
]


@SETTINGS
@given(
    st.sampled_from(CSV_HEADERS),
    st.lists(
        st.lists(
            st.text(max_size=12) | st.sampled_from(['"', ",", "\n", "\t", "1.2万"]), max_size=8
        ),
        max_size=6,
    ),
    st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_random_csv_documents(header: str, rows: list[list[str]], encoding: str) -> None:
    text = header + "\n" + "\n".join(",".join(row) for row in rows)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return
    parse_or_payload_error(data)
