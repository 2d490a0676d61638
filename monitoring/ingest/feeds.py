"""RSS 2.0 / Atom (via feedparser) and JSON Feed 1.x, with RSSHub in mind.

Safety: the XML is first parsed by defusedxml with DTDs forbidden, and only bytes that
passed are handed to feedparser (wrapped in BytesIO: feedparser treats a bare string as
a URL or file name and would open it). A document with any DOCTYPE, entity declaration
or external reference is refused, so entity bombs and file:// reads never expand.

feedparser 6 does not read JSON Feed, so JSON Feed is read here directly.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeElementTree
import feedparser
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from .errors import ItemError, PayloadError
from .fields import MAX_NAME_CHARS, clean_id, clean_text, clean_url, optional_text, type_name
from .items import NormalizedItem
from .timeparse import parse_time

_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_FEED_ROOTS = {"rss", "feed", "RDF", "channel"}
_HOST_PLATFORMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("weibo.com", "weibo.cn"), "weibo"),
    (("douyin.com", "iesdouyin.com"), "douyin"),
    (("xiaohongshu.com", "xhslink.com"), "xiaohongshu"),
    (("weixin.qq.com",), "wechat"),
    (("zhihu.com", "tieba.baidu.com", "douban.com", "hupu.com", "tianya.cn"), "forum"),
    # Bilibili is video plus comments, not a discussion board: "other" (docs explain).
    (("bilibili.com", "b23.tv"), "other"),
)
_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_WEIBO_MID_RE = re.compile(r"/(?:detail|status)/(\d{10,20})(?:[/?#]|$)")
_WEIBO_BID_RE = re.compile(r"^/\d+/([0-9A-Za-z]{8,10}|\d{10,20})(?:[/?#]|$)")
_ID_PATTERNS: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "douyin": ((re.compile(r"/(?:video|note)/(\d{6,25})"), "{}"),),
    "xiaohongshu": (
        (re.compile(r"/(?:explore|discovery/item|note|notes)/([0-9a-fA-F]{24})"), "{}"),
    ),
    "forum": (
        (re.compile(r"zhihu\.com/question/\d+/answer/(\d+)"), "zhihu-answer-{}"),
        (re.compile(r"zhuanlan\.zhihu\.com/p/(\d+)"), "zhihu-article-{}"),
        (re.compile(r"zhihu\.com/pin/(\d+)"), "zhihu-pin-{}"),
        (re.compile(r"zhihu\.com/question/(\d+)/?(?:[?#]|$)"), "zhihu-question-{}"),
    ),
    "other": ((re.compile(r"bilibili\.com/video/(BV[0-9A-Za-z]{10}|av\d+)"), "bilibili-{}"),),
}


@dataclass(slots=True)
class FeedEntries:
    format: str  # "rss", "atom" or "jsonfeed"
    feed_link: str | None
    records: list[dict[str, Any]] = field(default_factory=list)


# --- identity helpers -----------------------------------------------------------------


def platform_from_url(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    for domains, platform in _HOST_PLATFORMS:
        if any(host == domain or host.endswith("." + domain) for domain in domains):
            return platform
    return None


def weibo_bid_to_mid(bid: str) -> str:
    """Weibo's base62 post code (the "bid" in weibo.com/<uid>/<bid>) to the numeric id.

    The code is the numeric id in groups of 7 decimal digits, each written as 4 base62
    digits, most significant group first.
    """
    groups = []
    end = len(bid)
    while end > 0:
        start = max(0, end - 4)
        number = 0
        for char in bid[start:end]:
            number = number * 62 + _BASE62.index(char)
        groups.append(str(number).zfill(7) if start > 0 else str(number))
        end = start
    return "".join(reversed(groups)).lstrip("0") or "0"


def weibo_mid_to_bid(mid: str) -> str:
    groups = []
    end = len(mid)
    while end > 0:
        start = max(0, end - 7)
        number = int(mid[start:end])
        digits = ""
        while number:
            number, rest = divmod(number, 62)
            digits = _BASE62[rest] + digits
        groups.append(digits.zfill(4) if start > 0 else digits)
        end = start
    return "".join(reversed(groups)) or "0"


def external_id_from_url(url: str, platform: str | None) -> str | None:
    """A stable platform id from a post URL, or None when the URL has no known pattern."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if platform == "weibo":
        return _weibo_id(parts.path)
    for pattern, template in _ID_PATTERNS.get(platform or "", ()):
        match = pattern.search((parts.hostname or "") + parts.path)
        if match:
            return template.format(match.group(1))
    return None


def _weibo_id(path: str) -> str | None:
    match = _WEIBO_MID_RE.search(path)
    if match:
        return match.group(1)
    match = _WEIBO_BID_RE.match(path)
    if not match:
        return None
    code = match.group(1)
    return code if code.isdigit() else weibo_bid_to_mid(code)


def hashed_id(value: str) -> str:
    return hashlib.blake2b(value.strip().encode("utf-8"), digest_size=10).hexdigest()


# --- reading feeds ----------------------------------------------------------------------


def read_xml_feed(text: str) -> FeedEntries:
    data = _verified_xml_bytes(text)
    parsed = feedparser.parse(
        io.BytesIO(data), response_headers={"content-type": "application/xml; charset=utf-8"}
    )
    version = str(parsed.get("version") or "")
    feed = parsed.get("feed") or {}
    return FeedEntries(
        format="atom" if version.startswith("atom") else "rss",
        feed_link=_str_or_none(feed.get("link")),
        records=[_entry_record(entry, feed) for entry in parsed.get("entries", [])],
    )


def _verified_xml_bytes(text: str) -> bytes:
    head = text.lstrip()[:200].lower()
    if head.startswith("<!doctype html") or head.startswith("<html"):
        raise PayloadError("payload is an HTML page, not an RSS/Atom feed")
    # The text is already decoded; declare UTF-8 to match the bytes we hand on.
    data = _XML_DECL_RE.sub("", text, count=1).lstrip().encode("utf-8")
    try:
        root = SafeElementTree.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as exc:
        raise PayloadError(
            "feed XML has a DOCTYPE / entity declaration, which is refused: DTDs allow "
            f"entity-expansion bombs and external entity reads ({type(exc).__name__})"
        ) from exc
    except ElementTree.ParseError as exc:
        raise PayloadError(f"malformed XML: {exc}") from exc
    except (ValueError, LookupError) as exc:  # e.g. a stray second encoding declaration
        raise PayloadError(f"malformed XML: {exc}") from exc
    tag = root.tag.rsplit("}", 1)[-1]
    if tag not in _FEED_ROOTS:
        raise PayloadError(f"XML root element <{tag[:40]}> is not an RSS or Atom feed")
    return data


def _entry_record(entry: Any, feed: Any) -> dict[str, Any]:
    """A JSON-safe copy of what we use from a feedparser entry (becomes item.raw)."""
    contents = entry.get("content") or []
    content = contents[0].get("value") if contents and isinstance(contents[0], dict) else None
    parsed_time = entry.get("published_parsed") or entry.get("updated_parsed")
    return {
        "id": _str_or_none(entry.get("id")),
        "link": _str_or_none(entry.get("link")),
        "title": _str_or_none(entry.get("title")),
        "content": _str_or_none(content),
        "summary": _str_or_none(entry.get("summary")),
        "author": _str_or_none(entry.get("author")),
        "published": _str_or_none(entry.get("published") or entry.get("updated")),
        "published_utc": calendar.timegm(parsed_time) if parsed_time else None,
        "feed_link": _str_or_none(feed.get("link")),
        "feed_title": _str_or_none(feed.get("title")),
    }


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def read_json_feed(document: dict[str, Any]) -> FeedEntries:
    items = document.get("items")
    if not isinstance(items, list):
        raise PayloadError("JSON Feed has no 'items' list")
    home = document.get("home_page_url")
    feed_link = home if isinstance(home, str) else None
    records = [_json_feed_record(item, feed_link) for item in items]
    return FeedEntries(format="jsonfeed", feed_link=feed_link, records=records)


def _json_feed_record(item: object, feed_link: str | None) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"invalid": type_name(item)}
    authors = item.get("authors")
    if not isinstance(authors, list):
        authors = [item.get("author")]  # JSON Feed 1.0 had a single author object
    names = [a.get("name") for a in authors if isinstance(a, dict)]
    return {
        "id": item.get("id"),
        "link": item.get("url"),
        "title": item.get("title"),
        "content": item.get("content_html") or item.get("content_text"),
        "summary": item.get("summary"),
        "author": next((n for n in names if isinstance(n, str) and n), None),
        "published": item.get("date_published") or item.get("date_modified"),
        "published_utc": None,
        "feed_link": feed_link,
        "item": item,
    }


# --- entries to items -------------------------------------------------------------------


def normalize_feed_entry(
    record: dict[str, Any], *, feed_link: str | None, default_platform: str, now: datetime
) -> NormalizedItem:
    if "invalid" in record:
        raise ItemError(f"feed item must be an object, got {record['invalid']}")
    link = clean_url(record.get("link"), "link")
    guid = clean_id(record.get("id"), "id")
    if guid is None and link is None:
        raise ItemError("entry has neither a guid/id nor a link")
    platform = (
        platform_from_url(link)
        or platform_from_url(guid if guid and guid.startswith("http") else None)
        or platform_from_url(feed_link)
        or default_platform
    )
    text = clean_text(_first_text(record, "content", "summary", "title"), "description/content")
    title = optional_text(record.get("title"), "title")
    return NormalizedItem(
        external_id=_entry_external_id(guid, link, platform),
        platform=platform,
        text=text,
        posted_at=_entry_time(record, now),
        url=link or clean_url(guid, "id"),
        author_name=optional_text(record.get("author"), "author", limit=MAX_NAME_CHARS),
        # RSSHub's Weibo titles are the text cut short: keep a title only if it adds something.
        title=None if title is None or text.startswith(title.rstrip(".…")) else title,
        raw=record,
    )


def _first_text(record: dict[str, Any], *keys: str) -> object:
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _entry_external_id(guid: str | None, link: str | None, platform: str) -> str:
    for candidate in (link, guid):
        if candidate and candidate.startswith("http"):
            found = external_id_from_url(candidate, platform)
            if found:
                return found
    stable = guid or link
    assert stable is not None  # checked by the caller
    # A short non-URL guid is already an id; anything else is hashed to a fixed length.
    if not stable.startswith("http") and len(stable) <= 64:
        return stable
    return hashed_id(stable)


def _entry_time(record: dict[str, Any], now: datetime) -> datetime:
    published = record.get("published")
    if isinstance(published, str) and published.strip():
        try:
            return parse_time(published, "pubDate", now=now)
        except ItemError:
            if record.get("published_utc") is None:
                raise
    fallback = record.get("published_utc")
    if isinstance(fallback, int):
        # feedparser understood a date format we do not; its struct_time is UTC.
        return parse_time(fallback, "pubDate", now=now)
    raise ItemError("entry has no pubDate / published / updated date")
