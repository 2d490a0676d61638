"""parse_payload: one entry point for webhook bodies, uploaded files and fetched feeds.

Format resolution (fmt="auto"): the first non-blank character decides between XML
("<": RSS/Atom), JSON ("{" or "["; JSON Lines when the filename / content type says so
or when the text is one object per line) and CSV (anything else). Content type and
filename only break the JSON / JSON Lines tie, because both are often wrong.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import PurePath
from typing import Any

from monitoring.platforms import PLATFORMS

from . import feeds
from .decoding import charset_from_content_type, decode_payload, xml_declared_encoding
from .errors import ItemError, PayloadError
from .items import NormalizedItem, ParseResult, Rejection, dedupe_items
from .shapes import detect_shape, expand_record
from .timeparse import utc_now

FORMATS = ("auto", "jsonl", "json", "csv", "rss")
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_JSONL_HINTS = ("ndjson", "jsonl", "json-lines", "jsonlines", "json-seq")
_CSV_DELIMITERS = (",", "\t", ";")
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")

Normalizer = Callable[[Any], list[NormalizedItem]]


def parse_payload(
    data: bytes,
    *,
    content_type: str | None = None,
    filename: str | None = None,
    fmt: str = "auto",
    default_platform: str = "other",
    now: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ParseResult:
    """Parse a whole payload; bad records become Rejections, a bad payload a PayloadError."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}")
    if default_platform not in PLATFORMS:
        raise ValueError(f"default_platform must be one of {PLATFORMS}")
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_bytes:
        raise PayloadError(f"payload is {len(data)} bytes, over the limit of {max_bytes}")
    if not data.strip():
        raise PayloadError("payload is empty")
    declared = charset_from_content_type(content_type) or xml_declared_encoding(data)
    text, encoding = decode_payload(data, declared=declared)
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise PayloadError("payload is empty")
    context = _Context(
        default_platform=default_platform,
        now=now or utc_now(),
        strings_known_clean=not _may_hold_nul_or_surrogates(text),
    )
    resolved = _resolve_format(fmt, text, content_type, filename)
    if resolved == "rss":
        result = _parse_xml_feed(text, context)
    elif resolved == "csv":
        result = _parse_csv(text, context, filename)
    else:
        result = _parse_json_family(text, context, jsonl=resolved == "jsonl")
    result.encoding = encoding
    result.items, result.duplicates_in_batch = dedupe_items(result.items)
    return result


def _may_hold_nul_or_surrogates(text: str) -> bool:
    """Strict decoding leaves no lone surrogates, so only JSON escapes can create them."""
    return "\x00" in text or "\\u0000" in text or _SURROGATE_ESCAPE_RE.search(text) is not None


class _Context:
    __slots__ = ("default_platform", "now", "strings_known_clean")

    def __init__(self, *, default_platform: str, now: datetime, strings_known_clean: bool) -> None:
        self.default_platform = default_platform
        self.now = now
        self.strings_known_clean = strings_known_clean

    def expand(self, record: Any) -> list[NormalizedItem]:
        return expand_record(
            record,
            default_platform=self.default_platform,
            now=self.now,
            strings_known_clean=self.strings_known_clean,
        )


def _resolve_format(fmt: str, text: str, content_type: str | None, filename: str | None) -> str:
    if fmt != "auto":
        return fmt
    hints = f"{content_type or ''} {PurePath(filename or '').suffix}".lower()
    jsonl_hint = any(hint in hints for hint in _JSONL_HINTS)
    first = text.lstrip()[:1]
    if first == "<":
        return "rss"
    if first in ("{", "[") or "json" in hints or _is_json_scalar(text):
        return "jsonl" if jsonl_hint else "json"
    return "csv"


def _is_json_scalar(text: str) -> bool:
    """A bare JSON string/number/null, so it gets a JSON error rather than a CSV one."""
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _collect(
    result: ParseResult, records: Iterable[tuple[int, Any]], normalize: Normalizer
) -> ParseResult:
    for index, record in records:
        try:
            result.items.extend(normalize(record))
        except ItemError as exc:
            result.rejected.append(Rejection(index=index, error=exc.message))
    return result


# --- JSON and JSON Lines ----------------------------------------------------------------


def _parse_json_family(text: str, context: _Context, *, jsonl: bool) -> ParseResult:
    if jsonl:
        return _parse_jsonl(text, context)
    try:
        document = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" or _looks_like_jsonl(text):
            return _parse_jsonl(text, context)
        message = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise PayloadError(message) from None
    except RecursionError as exc:
        raise PayloadError("invalid JSON: nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        raise PayloadError(f"invalid JSON: {exc}") from exc
    return _parse_json_document(document, context)


def _looks_like_jsonl(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return len(lines) > 1 and all(line.startswith("{") for line in lines)


def _parse_jsonl(text: str, context: _Context) -> ParseResult:
    result = ParseResult(format="jsonl")
    return _collect(result, _jsonl_records(text, result), context.expand)


def _jsonl_records(text: str, result: ParseResult) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line, strict=False)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON at column {exc.colno}: {exc.msg}"
        except RecursionError:
            message = "invalid JSON: nested too deeply"
        except ValueError as exc:
            message = f"invalid JSON: {exc}"
        else:
            yield number, record
            continue
        result.rejected.append(Rejection(index=number, error=message))


def _parse_json_document(document: Any, context: _Context) -> ParseResult:
    if isinstance(document, list):
        return _collect(ParseResult(format="json"), enumerate(document), context.expand)
    if not isinstance(document, dict):
        kind = "null" if document is None else type(document).__name__
        raise PayloadError(f"JSON top level must be an object or an array, got {kind}")
    version = document.get("version")
    if isinstance(version, str) and version.startswith("https://jsonfeed.org/version/"):
        return _parse_feed_entries(feeds.read_json_feed(document), context)
    for key in ("items", "data"):
        if key in document:
            return _json_batch(document[key], key, context)
    if isinstance(document.get("weibo"), list):
        return _weibo_crawler_file(document, context)
    try:
        detect_shape(document)
    except ItemError as exc:
        raise PayloadError(
            "JSON object is neither a batch nor a record: expected {'items': [...]}, an "
            "array, a weibo-crawler file {'user': ..., 'weibo': [...]}, a JSON Feed or a "
            f"single record ({exc.message})"
        ) from exc
    return _collect(ParseResult(format="json"), [(0, document)], context.expand)


def _json_batch(records: Any, key: str, context: _Context) -> ParseResult:
    if not isinstance(records, list):
        raise PayloadError(
            f"'{key}' must be a list, got {type(records).__name__} (for an API response "
            "with the items deeper inside, configure a field mapping)"
        )
    return _collect(ParseResult(format="json"), enumerate(records), context.expand)


def _weibo_crawler_file(document: dict[str, Any], context: _Context) -> ParseResult:
    """weibo-crawler's {"user": {...}, "weibo": [...]}: the user's reach applies to each post."""
    user = document.get("user")
    user = user if isinstance(user, dict) else {}
    extra = {
        key: user[key]
        for key in ("followers_count", "verified")
        if user.get(key) is not None and not isinstance(user.get(key), (dict, list))
    }

    def with_user(record: Any) -> list[NormalizedItem]:
        if isinstance(record, dict) and extra and _same_user(record, user):
            record = {**extra, **record}
        return context.expand(record)

    return _collect(ParseResult(format="json"), enumerate(document["weibo"]), with_user)


def _same_user(record: dict[str, Any], user: dict[str, Any]) -> bool:
    uid = record.get("user_id")
    return uid is None or str(uid).strip() == str(user.get("id", "")).strip()


# --- CSV -----------------------------------------------------------------------------------


def _parse_csv(text: str, context: _Context, filename: str | None) -> ParseResult:
    lines = io.StringIO(text, newline="")
    header_line = text.split("\n", 1)[0]
    delimiter = max(_CSV_DELIMITERS, key=header_line.count)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = [name.strip().lstrip("\ufeff") for name in next(reader)]
    except csv.Error as exc:
        raise PayloadError(f"malformed CSV header: {exc}") from exc
    _check_csv_header(header)
    result = ParseResult(format="csv")
    author_id = _author_from_filename(filename, header)
    return _collect(result, _csv_rows(reader, header, author_id, result), context.expand)


def _check_csv_header(header: list[str]) -> None:
    if not any(header):
        raise PayloadError("CSV has no header row")
    try:
        detect_shape(dict.fromkeys(header, ""))
    except ItemError as exc:
        shown = ", ".join(name[:30] for name in header[:15])
        raise PayloadError(
            "unrecognised CSV header (expected normalized columns such as external_id, "
            "text, posted_at, weibo-crawler's Chinese columns such as 正文, or "
            f"MediaCrawler's note_id / aweme_id): {shown}"
        ) from exc


def _author_from_filename(filename: str | None, header: list[str]) -> str | None:
    """weibo-crawler names each CSV after the user id and has no author column."""
    if not filename or "user_id" in header or "正文" not in header:
        return None
    stem = PurePath(filename).stem
    return stem if stem.isdigit() else None


def _csv_rows(
    reader: Any, header: list[str], author_id: str | None, result: ParseResult
) -> Iterator[tuple[int, dict[str, str]]]:
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise PayloadError(f"malformed CSV at line {reader.line_num}: {exc}") from exc
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            message = f"row has {len(row)} fields but the header has {len(header)}"
            result.rejected.append(Rejection(index=start, error=message))
            continue
        # Short rows are padded: exporters often drop trailing empty cells.
        record = dict(zip(header, row + [""] * (len(header) - len(row)), strict=True))
        if author_id is not None:
            record["user_id"] = author_id
        yield start, record


# --- feeds -----------------------------------------------------------------------------


def _parse_xml_feed(text: str, context: _Context) -> ParseResult:
    return _parse_feed_entries(feeds.read_xml_feed(text), context)


def _parse_feed_entries(entries: feeds.FeedEntries, context: _Context) -> ParseResult:
    def normalize(record: dict[str, Any]) -> list[NormalizedItem]:
        item = feeds.normalize_feed_entry(
            record,
            feed_link=entries.feed_link,
            default_platform=context.default_platform,
            now=context.now,
        )
        return [item]

    result = ParseResult(format=entries.format)
    return _collect(result, enumerate(entries.records), normalize)
