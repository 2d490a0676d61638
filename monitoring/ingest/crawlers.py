"""Records as exported by the common open-source crawlers.

- weibo-crawler (dataabc): JSON records (id, bid, text, created_at, attitudes_count, ...,
  nested "retweet"), the raw Weibo API status it is built from (user object,
  retweeted_status, "Tue Nov 24 10:00:00 +0800 2026" times), and its CSV with Chinese
  headers; weibo-search's CSV headers too.
- MediaCrawler: Weibo / Douyin / Xiaohongshu notes and their comments, counts as strings.

Each extractor returns the items a record holds, embedded originals first.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .errors import ItemError
from .fields import (
    MAX_NAME_CHARS,
    clean_count,
    clean_flag,
    clean_id,
    clean_location,
    clean_text,
    clean_url,
    optional_text,
    pick,
    required_id,
    type_name,
)
from .items import NormalizedItem
from .timeparse import parse_time

Record = dict[str, Any]


def _nested(record: Record, key: str) -> Record:
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(f"{key} must be an object, got {type_name(value)}")
    return value


def _weibo_url(author_id: str | None, bid: str | None, external_id: str) -> str:
    if author_id and bid:
        return f"https://weibo.com/{author_id}/{bid}"
    return f"https://m.weibo.cn/detail/{external_id}"


# --- weibo-crawler JSON and the Weibo API status ------------------------------------


def weibo_items(record: Record, *, now: datetime) -> list[NormalizedItem]:
    retweet = pick(record, "retweet", "retweeted_status")
    if retweet is not None and not isinstance(retweet, dict):
        raise ItemError(f"retweet must be an object, got {type_name(retweet)}")
    originals: list[NormalizedItem] = []
    parent_id = None
    root_id = None
    if retweet:
        # The original may be deleted or truncated ("抱歉，此微博已被作者删除"); the repost
        # still links to its id even when the original cannot become an item itself.
        parent_id = clean_id(pick(retweet, "id", "idstr", "mid"), "retweet.id")
        try:
            original = _weibo_item(retweet, now=now, parent_id=None, root_id=None)
        except ItemError:
            original = None
        if original is not None:
            originals.append(original)
            parent_id = original.external_id
        root_id = parent_id
    return [*originals, _weibo_item(record, now=now, parent_id=parent_id, root_id=root_id)]


def _weibo_item(
    record: Record, *, now: datetime, parent_id: str | None, root_id: str | None
) -> NormalizedItem:
    user = _nested(record, "user")
    external_id = required_id(pick(record, "id", "idstr", "mid"), "id")
    bid = clean_id(pick(record, "bid", "mblogid"), "bid")
    author_id = clean_id(pick(record, "user_id", "uid") or pick(user, "idstr", "id"), "user_id")
    return NormalizedItem(
        external_id=external_id,
        platform="weibo",
        text=clean_text(pick(record, "text_raw", "text"), "text"),
        posted_at=parse_time(pick(record, "full_created_at", "created_at"), "created_at", now=now),
        url=clean_url(pick(record, "url"), "url") or _weibo_url(author_id, bid, external_id),
        author_id=author_id,
        author_name=optional_text(
            pick(record, "screen_name", "nickname") or user.get("screen_name"),
            "screen_name",
            limit=MAX_NAME_CHARS,
        ),
        author_followers=clean_count(
            pick(record, "followers_count") or pick(user, "followers_count"), "followers_count"
        ),
        author_verified=clean_flag(pick(record, "verified") or user.get("verified"), "verified"),
        reposts=clean_count(record.get("reposts_count"), "reposts_count"),
        comments=clean_count(record.get("comments_count"), "comments_count"),
        likes=clean_count(record.get("attitudes_count"), "attitudes_count"),
        parent_id=parent_id,
        root_id=root_id,
        location=clean_location(
            pick(record, "region_name", "ip", "ip_location", "location"), "location"
        ),
        raw=record,
    )


# --- weibo-crawler / weibo-search CSV rows ---------------------------------------------

_CSV_ORIGINAL_PREFIX = "源微博"


def weibo_csv_items(row: Record, *, now: datetime) -> list[NormalizedItem]:
    """One CSV row; a repost row of weibo-crawler also carries its original (源微博*)."""
    original_row = _csv_original_row(row)
    originals: list[NormalizedItem] = []
    parent_id = clean_id(pick(row, "retweet_id", "源微博id"), "源微博id")
    if original_row is not None:
        # A deleted original keeps the link but is dropped as an item (as for JSON).
        with contextlib.suppress(ItemError):
            originals.append(_weibo_csv_item(original_row, now=now, parent_id=None))
    return [*originals, _weibo_csv_item(row, now=now, parent_id=parent_id)]


def _csv_original_row(row: Record) -> Record | None:
    if not pick(row, "源微博id") or not pick(row, "源微博正文"):
        return None
    original = {
        key[len(_CSV_ORIGINAL_PREFIX) :]: value
        for key, value in row.items()
        if isinstance(key, str) and key.startswith(_CSV_ORIGINAL_PREFIX)
    }
    original["user_id"] = row.get("源用户id")
    original["用户昵称"] = row.get("源用户昵称")
    return original


def _weibo_csv_item(row: Record, *, now: datetime, parent_id: str | None) -> NormalizedItem:
    external_id = required_id(pick(row, "id", "微博id"), "id")
    bid = clean_id(row.get("bid"), "bid")
    author_id = clean_id(pick(row, "user_id", "用户id"), "user_id")
    return NormalizedItem(
        external_id=external_id,
        platform="weibo",
        text=clean_text(pick(row, "正文", "微博正文"), "正文"),
        posted_at=parse_time(pick(row, "完整日期", "发布时间", "日期"), "完整日期", now=now),
        url=clean_url(row.get("帖子链接"), "帖子链接") or _weibo_url(author_id, bid, external_id),
        author_id=author_id,
        author_name=optional_text(row.get("用户昵称"), "用户昵称", limit=MAX_NAME_CHARS),
        author_verified=clean_flag(row.get("user_authentication"), "user_authentication"),
        reposts=clean_count(row.get("转发数"), "转发数"),
        comments=clean_count(row.get("评论数"), "评论数"),
        likes=clean_count(row.get("点赞数"), "点赞数"),
        parent_id=parent_id,
        root_id=parent_id,
        location=clean_location(pick(row, "ip", "位置", "发布位置"), "位置"),
        raw=row,
    )


# --- MediaCrawler ---------------------------------------------------------------------

_NOTE_URL_BUILDERS = {
    "douyin": "https://www.douyin.com/video/{}",
    "xiaohongshu": "https://www.xiaohongshu.com/explore/{}",
    "weibo": "https://m.weibo.cn/detail/{}",
}
_LIKE_KEYS = ("liked_count", "like_count", "digg_count", "attitudes_count")
_COMMENT_KEYS = ("comment_count", "comments_count")
_SHARE_KEYS = ("share_count", "shared_count", "reposts_count", "forward_count")
_VIEW_KEYS = ("play_count", "view_count", "viewd_count", "read_count")
_TIME_KEYS = ("create_time", "time", "create_date_time", "publish_time")
_AUTHOR_KEYS = ("user_id", "creator_hash", "sec_uid", "uid")


def mediacrawler_platform(record: Record) -> str:
    """Which platform a MediaCrawler record came from, judged by its keys and its URL."""
    if "aweme_id" in record:
        return "douyin"
    host = _host(pick(record, "note_url", "url"))
    if host.endswith(("weibo.cn", "weibo.com")):
        return "weibo"
    if host.endswith(("xiaohongshu.com", "xhslink.com")):
        return "xiaohongshu"
    # Weibo notes carry "content" and a formatted create_date_time; Xiaohongshu notes
    # carry title/desc/type and a millisecond "time".
    weibo_keys = any(key in record for key in ("content", "create_date_time", "shared_count"))
    # Comments of every platform have "content"; only Weibo's have create_date_time.
    if weibo_keys and ("comment_id" not in record or "create_date_time" in record):
        return "weibo"
    return "xiaohongshu"


def _host(value: object) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return (urlsplit(value.strip()).hostname or "").lower()
    except ValueError:
        return ""


def mediacrawler_note_items(record: Record, *, now: datetime) -> list[NormalizedItem]:
    platform = mediacrawler_platform(record)
    id_key = "aweme_id" if platform == "douyin" else "note_id"
    external_id = required_id(record.get(id_key), id_key)
    text = clean_text(pick(record, "content", "desc", "title"), "content/desc/title")
    title = optional_text(record.get("title"), "title")
    url_field = "aweme_url" if platform == "douyin" else "note_url"
    item = NormalizedItem(
        external_id=external_id,
        platform=platform,
        text=text,
        posted_at=parse_time(pick(record, *_TIME_KEYS), "create_time", now=now),
        url=clean_url(pick(record, url_field, "url"), url_field)
        or _NOTE_URL_BUILDERS[platform].format(external_id),
        title=None if title is None or text.startswith(title) else title,
        **_mediacrawler_people_and_counts(record),
        raw=record,
    )
    return [item]


def mediacrawler_comment_items(record: Record, *, now: datetime) -> list[NormalizedItem]:
    platform = mediacrawler_platform(record)
    note_id = clean_id(pick(record, "aweme_id", "note_id"), "note_id")
    parent_comment = clean_id(record.get("parent_comment_id"), "parent_comment_id")
    item = NormalizedItem(
        external_id=required_id(record.get("comment_id"), "comment_id"),
        platform=platform,
        text=clean_text(record.get("content"), "content"),
        posted_at=parse_time(pick(record, *_TIME_KEYS), "create_time", now=now),
        url=clean_url(record.get("url"), "url"),
        parent_id=parent_comment if parent_comment not in (None, "0") else note_id,
        root_id=note_id,
        **_mediacrawler_people_and_counts(record, comments_keys=("sub_comment_count",)),
        raw=record,
    )
    return [item]


def _mediacrawler_people_and_counts(
    record: Record, *, comments_keys: tuple[str, ...] = _COMMENT_KEYS
) -> dict[str, Any]:
    return {
        "author_id": clean_id(pick(record, *_AUTHOR_KEYS), "user_id"),
        "author_name": optional_text(record.get("nickname"), "nickname", limit=MAX_NAME_CHARS),
        "author_followers": clean_count(
            pick(record, "fans", "follower_count", "followers_count"), "fans"
        ),
        "author_verified": clean_flag(record.get("verified"), "verified"),
        "likes": clean_count(pick(record, *_LIKE_KEYS, "comment_like_count"), "liked_count"),
        "comments": clean_count(pick(record, *comments_keys), "comment_count"),
        "reposts": clean_count(pick(record, *_SHARE_KEYS), "share_count"),
        "views": clean_count(pick(record, *_VIEW_KEYS), "play_count"),
        "location": clean_location(record.get("ip_location"), "ip_location"),
    }
