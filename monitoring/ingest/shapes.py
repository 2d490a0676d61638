"""Detect which shape a record has and normalize it.

Detection is by keys, per record, in a fixed order (first match wins):

1. external_id                              -> normalized
2. comment_id with note_id or aweme_id      -> mediacrawler_comment
3. aweme_id                                 -> mediacrawler_douyin
4. note_id                                  -> mediacrawler_weibo / mediacrawler_xhs
5. 正文 or 微博正文                           -> weibo_crawler_csv
6. id/idstr/mid + text/text_raw + a Weibo key (bid, attitudes_count, reposts_count,
   comments_count, screen_name, user, retweet, ...)  -> weibo_crawler
7. id + text + posted_at                     -> normalized (with "id" for "external_id")
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitoring.platforms import PLATFORMS

from . import crawlers
from .errors import ItemError
from .fields import (
    MAX_NAME_CHARS,
    clean_count,
    clean_flag,
    clean_id,
    clean_location,
    clean_platform,
    clean_text,
    clean_url,
    optional_text,
    pick,
    required_id,
    type_name,
)
from .items import NormalizedItem
from .timeparse import parse_time, utc_now

SHAPE_NORMALIZED = "normalized"
SHAPE_WEIBO = "weibo_crawler"
SHAPE_WEIBO_CSV = "weibo_crawler_csv"
SHAPE_MC_WEIBO = "mediacrawler_weibo"
SHAPE_MC_DOUYIN = "mediacrawler_douyin"
SHAPE_MC_XHS = "mediacrawler_xhs"
SHAPE_MC_COMMENT = "mediacrawler_comment"
SHAPES = (
    SHAPE_NORMALIZED,
    SHAPE_WEIBO,
    SHAPE_WEIBO_CSV,
    SHAPE_MC_WEIBO,
    SHAPE_MC_DOUYIN,
    SHAPE_MC_XHS,
    SHAPE_MC_COMMENT,
)
# Deeper records are refused: nothing we read is that deep, and storing them as JSON
# later would hit recursion limits.
MAX_RECORD_DEPTH = 32

_WEIBO_MARKERS = (
    "bid",
    "mblogid",
    "attitudes_count",
    "reposts_count",
    "comments_count",
    "screen_name",
    "user",
    "retweet",
    "retweeted_status",
    "full_created_at",
)


def detect_shape(record: object) -> str:
    if not isinstance(record, dict):
        raise ItemError(f"record must be a JSON object, got {type_name(record)}")
    if "external_id" in record:
        return SHAPE_NORMALIZED
    if "comment_id" in record and ("note_id" in record or "aweme_id" in record):
        return SHAPE_MC_COMMENT
    if "aweme_id" in record:
        return SHAPE_MC_DOUYIN
    if "note_id" in record:
        is_weibo = crawlers.mediacrawler_platform(record) == "weibo"
        return SHAPE_MC_WEIBO if is_weibo else SHAPE_MC_XHS
    if "正文" in record or "微博正文" in record:
        return SHAPE_WEIBO_CSV
    has_id = "id" in record or "idstr" in record or "mid" in record
    if has_id and ("text" in record or "text_raw" in record):
        if any(key in record for key in _WEIBO_MARKERS):
            return SHAPE_WEIBO
        if "posted_at" in record:
            return SHAPE_NORMALIZED
    keys = ", ".join(sorted(str(key)[:30] for key in record)[:12])
    raise ItemError(
        "unrecognised record shape: expected the normalized shape (external_id, text, "
        "posted_at, ...), a weibo-crawler record (id, text, created_at, ...) or a "
        f"MediaCrawler record (note_id / aweme_id, ...); keys seen: {keys or 'none'}"
    )


def expand_record(
    record: object,
    *,
    default_platform: str = "other",
    now: datetime | None = None,
    strings_known_clean: bool = False,
) -> list[NormalizedItem]:
    """All items a record holds: embedded originals (a weibo retweet) first, itself last.

    strings_known_clean skips the per-string NUL / lone-surrogate scan of the raw record;
    parse_payload sets it when the whole payload text cannot contain either.
    """
    if default_platform not in PLATFORMS:
        raise ValueError(f"default_platform must be one of {PLATFORMS}")
    shape = detect_shape(record)
    assert isinstance(record, dict)  # detect_shape guarantees it; narrows the type
    dirty = _scan(record, check_strings=not strings_known_clean)
    clean: dict[str, Any] = sanitize_raw(record) if dirty else record
    now = now or utc_now()
    if shape == SHAPE_NORMALIZED:
        return [_normalized_item(clean, default_platform=default_platform, now=now)]
    if shape == SHAPE_WEIBO:
        return crawlers.weibo_items(clean, now=now)
    if shape == SHAPE_WEIBO_CSV:
        return crawlers.weibo_csv_items(clean, now=now)
    if shape == SHAPE_MC_COMMENT:
        return crawlers.mediacrawler_comment_items(clean, now=now)
    return crawlers.mediacrawler_note_items(clean, now=now)


def normalize_record(
    record: object, *, default_platform: str = "other", now: datetime | None = None
) -> NormalizedItem:
    """The record's own item (see expand_record for the originals it may embed)."""
    return expand_record(record, default_platform=default_platform, now=now)[-1]


def _normalized_item(
    record: dict[str, Any], *, default_platform: str, now: datetime
) -> NormalizedItem:
    author = _object(record, "author")
    metrics = _object(record, "metrics")
    return NormalizedItem(
        external_id=required_id(pick(record, "external_id", "id"), "external_id"),
        platform=clean_platform(record.get("platform"), "platform", default=default_platform),
        text=clean_text(record.get("text"), "text"),
        posted_at=parse_time(record.get("posted_at"), "posted_at", now=now),
        url=clean_url(record.get("url"), "url"),
        author_id=clean_id(_either(author, "id", record, "author_id"), "author.id"),
        author_name=optional_text(
            _either(author, "name", record, "author_name"), "author.name", limit=MAX_NAME_CHARS
        ),
        author_followers=clean_count(
            _either(author, "followers", record, "author_followers"), "author.followers"
        ),
        author_verified=clean_flag(
            _either(author, "verified", record, "author_verified"), "author.verified"
        ),
        reposts=clean_count(_either(metrics, "reposts", record, "reposts"), "metrics.reposts"),
        comments=clean_count(_either(metrics, "comments", record, "comments"), "metrics.comments"),
        likes=clean_count(_either(metrics, "likes", record, "likes"), "metrics.likes"),
        views=clean_count(_either(metrics, "views", record, "views"), "metrics.views"),
        parent_id=clean_id(record.get("parent_id"), "parent_id"),
        root_id=clean_id(record.get("root_id"), "root_id"),
        location=clean_location(record.get("location"), "location"),
        title=optional_text(record.get("title"), "title"),
        raw=record,
    )


def _object(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(f"{key} must be an object, got {type_name(value)}")
    return value


def _either(nested: dict[str, Any], key: str, record: dict[str, Any], flat_key: str) -> object:
    """The nested value (author.name) or, for flat CSV-style records, the flat one."""
    value = nested.get(key)
    return record.get(flat_key) if value is None or value == "" else value


def _scan(record: dict[str, Any], *, check_strings: bool) -> bool:
    """Enforce MAX_RECORD_DEPTH; report whether any string needs sanitize_raw."""
    dirty = False
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(record, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_RECORD_DEPTH:
            raise ItemError(f"record is nested more than {MAX_RECORD_DEPTH} levels deep")
        children: Iterable[Any] = container
        if isinstance(container, dict):
            if check_strings and not dirty:
                dirty = any(_is_dirty(key) for key in container if isinstance(key, str))
            children = container.values()
        for child in children:
            if isinstance(child, str):
                if check_strings and not dirty:
                    dirty = _is_dirty(child)
            elif isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return dirty


def _is_dirty(value: str) -> bool:
    if "\x00" in value:
        return True
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogate, e.g. from a JSON "\\ud800" escape
        return True
    return False


def sanitize_raw(value: Any) -> Any:
    """A copy of a JSON value without NUL or lone surrogates (PostgreSQL rejects both).

    Callers must have bounded the depth first (see MAX_RECORD_DEPTH).
    """
    if isinstance(value, str):
        return "".join(ch for ch in value if ch != "\x00" and not "\ud800" <= ch <= "\udfff")
    if isinstance(value, dict):
        return {sanitize_raw(k): sanitize_raw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sanitize_raw(v) for v in value]
    return value
