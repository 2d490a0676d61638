"""Field mappings for polled JSON APIs."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from monitoring.ingest import (
    ItemError,
    MappingError,
    PayloadError,
    apply_mapping,
    parse_mapped,
    preview_mapping,
    validate_mapping,
)
from monitoring.ingest.mapping import resolve_path
from monitoring.ingest.timeparse import SHANGHAI

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=SHANGHAI)

MAPPING = {
    "items": "data.list",
    "id": "mid",
    "text": "text_raw",
    "posted_at": "created_at",
    "platform": "=weibo",
    "url": "pics.0.url",
    "location": "region_name",
    "author.id": "user.idstr",
    "author.name": "user.screen_name",
    "author.followers": "user.followers_count",
    "metrics.reposts": "reposts_count",
    "metrics.comments": "comments_count",
    "metrics.likes": "attitudes_count",
}


@pytest.fixture
def document() -> Any:
    return json.loads((FIXTURES / "weibo_api_mapping.json").read_text(encoding="utf-8"))


def test_apply_mapping_builds_normalized_shape_dicts(document: Any) -> None:
    mapped = apply_mapping({"data": {"list": document["data"]["list"][:2]}}, MAPPING)
    assert mapped[0] == {
        "external_id": "5231600000000001",
        "text": "云朵咖啡App又崩了，第三次了",
        "posted_at": "Tue Nov 24 19:00:00 +0800 2026",
        "platform": "weibo",
        "url": "https://wx2.example.com/p1.jpg",
        "location": "发布于 湖北",
        "author": {"id": "8000000001", "name": "数码小能手", "followers": 5600},
        "metrics": {"reposts": 1, "comments": 2, "likes": 3},
    }
    # optional paths that are missing (no pics, no followers) are simply absent
    assert "url" not in mapped[1]
    assert "followers" not in mapped[1]["author"]


def test_apply_mapping_names_the_missing_required_path(document: Any) -> None:
    with pytest.raises(ItemError, match="item 2: text: path 'text_raw' not found: no key"):
        apply_mapping(document, MAPPING)


def test_parse_mapped_normalizes_and_rejects_per_item(document: Any) -> None:
    result = parse_mapped(document, MAPPING, now=NOW)
    first, second = result.items
    assert first.external_id == "5231600000000001"
    assert first.platform == "weibo"
    assert first.posted_at == datetime(2026, 11, 24, 19, 0, tzinfo=SHANGHAI)
    assert first.location == "湖北"
    assert first.author_followers == 5600
    assert first.raw["mid"] == "5231600000000001"  # the API's item, not our mapped dict
    assert second.likes == 7
    assert [r.index for r in result.rejected] == [2]


def test_parse_mapped_accepts_bytes_and_reports_bad_json() -> None:
    body = json.dumps({"data": {"list": []}}).encode()
    assert parse_mapped(body, MAPPING).items == []
    with pytest.raises(PayloadError, match="invalid JSON at line 1"):
        parse_mapped(b"{oops", MAPPING)
    with pytest.raises(PayloadError, match=r"path 'data\.list' not found: no key 'list' at data"):
        parse_mapped({"data": {}}, MAPPING)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.b", 1),
        ("a.list.0.x", "first"),
        ("a.list.-1.x", "last"),
        ("", {"a": {"b": 1, "list": [{"x": "first"}, {"x": "last"}]}}),
    ],
)
def test_resolve_path(path: str, expected: object) -> None:
    doc = {"a": {"b": 1, "list": [{"x": "first"}, {"x": "last"}]}}
    assert resolve_path(doc, path) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("a.c", "path 'a.c' not found: no key 'c' at a"),
        ("a.list.5", "index 5 is out of range at a.list"),
        ("a.list.x", "a.list is a list, 'x' is not an index"),
        ("a.b.c", "path 'a.b.c' not found: a.b is int, not an object or list"),
        ("z", "no key 'z' at the top level"),
    ],
)
def test_resolve_path_errors(path: str, message: str) -> None:
    doc = {"a": {"b": 1, "list": [{"x": "first"}]}}
    with pytest.raises(ItemError, match=message):
        resolve_path(doc, path)


def test_validate_mapping_lists_every_problem() -> None:
    with pytest.raises(MappingError) as info:
        validate_mapping({"items": "data", "txt": "t", "url": 5})
    message = str(info.value)
    assert "unknown field 'txt'" in message
    assert "path for 'url' must be a string" in message
    assert "'external_id' is required" in message
    assert "'text' is required" in message
    assert "'posted_at' is required" in message
    with pytest.raises(MappingError, match="must be an object"):
        validate_mapping(["items"])


def test_top_level_list_with_empty_items_path() -> None:
    mapping = {"items": "", "id": "i", "text": "t", "posted_at": "d"}
    result = parse_mapped([{"i": 1, "t": "顶层列表", "d": "2026-11-24 10:00"}], mapping, now=NOW)
    assert result.items[0].text == "顶层列表"


def test_preview_mapping_shows_rows_and_errors(document: Any) -> None:
    preview = preview_mapping(document, MAPPING, limit=5, now=NOW)
    assert preview.error is None
    assert preview.total_items == 3
    assert [row.index for row in preview.rows] == [0, 1, 2]
    assert preview.rows[0].item is not None
    assert preview.rows[0].item.author_name == "数码小能手"
    assert preview.rows[2].item is None
    assert preview.rows[2].error is not None and "text_raw" in preview.rows[2].error

    limited = preview_mapping(document, MAPPING, limit=1, now=NOW)
    assert len(limited.rows) == 1 and limited.total_items == 3


def test_preview_mapping_reports_whole_document_problems_without_raising(document: Any) -> None:
    assert "no key 'items'" in (
        preview_mapping(document, {**MAPPING, "items": "items"}).error or ""
    )
    assert "invalid mapping" in (preview_mapping(document, {"items": "data.list"}).error or "")
    assert "invalid JSON" in (preview_mapping(b"[", MAPPING).error or "")


def test_preview_row_with_value_that_fails_normalization(document: Any) -> None:
    document["data"]["list"][0]["attitudes_count"] = "很多"
    preview = preview_mapping(document, MAPPING, now=NOW)
    row = preview.rows[0]
    assert row.mapped is not None and row.item is None
    assert row.error == "metrics.likes is not a count: '很多'"
