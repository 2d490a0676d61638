"""Field mappings for JSON APIs that are polled: where in each response the items are,
and where in each item every normalized field is.

A mapping is a dict of dotted paths, e.g.::

    {"items": "data.list", "external_id": "mid", "text": "text_raw",
     "posted_at": "created_at", "author.name": "user.screen_name",
     "metrics.likes": "attitudes_count", "url": "pics.0.url", "platform": "=weibo"}

A path walks object keys and list indexes ("pics.0.url", "-1" for the last element);
"" for items means the response itself is the list; a value starting with "=" is a
constant. external_id (alias id), text and posted_at are required; a missing optional
path gives None.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .decoding import decode_payload
from .errors import IngestError, ItemError, MappingError, PayloadError
from .items import NormalizedItem, ParseResult, Rejection, dedupe_items
from .shapes import normalize_record

REQUIRED_FIELDS = ("external_id", "text", "posted_at")
OPTIONAL_FIELDS = (
    "platform",
    "url",
    "title",
    "location",
    "parent_id",
    "root_id",
    "author.id",
    "author.name",
    "author.followers",
    "author.verified",
    "metrics.reposts",
    "metrics.comments",
    "metrics.likes",
    "metrics.views",
)
_ALIASES = {"id": "external_id"}


def validate_mapping(mapping: object) -> dict[str, str]:
    """The mapping with aliases resolved; MappingError listing every problem otherwise."""
    if not isinstance(mapping, dict):
        raise MappingError("mapping must be an object of field -> dotted path")
    resolved: dict[str, str] = {}
    problems = []
    for key, path in mapping.items():
        name = _ALIASES.get(key, key)
        if name != "items" and name not in REQUIRED_FIELDS + OPTIONAL_FIELDS:
            problems.append(f"unknown field {key!r}")
        elif not isinstance(path, str):
            problems.append(f"path for {key!r} must be a string")
        else:
            resolved[name] = path.strip()
    problems += [
        f"{name!r} is required" for name in ("items", *REQUIRED_FIELDS) if name not in resolved
    ]
    if problems:
        raise MappingError("invalid mapping: " + "; ".join(problems))
    return resolved


def resolve_path(document: Any, path: str) -> Any:
    """Follow a dotted path; ItemError saying where it broke when it cannot."""
    current = document
    walked: list[str] = []
    for part in path.split(".") if path else []:
        current = _step(current, part, path, ".".join(walked) or "the top level")
        walked.append(part)
    return current


def _step(current: Any, part: str, path: str, where: str) -> Any:
    if isinstance(current, dict):
        if part not in current:
            raise ItemError(f"path {path!r} not found: no key {part!r} at {where}")
        return current[part]
    if isinstance(current, list):
        try:
            return current[int(part)]
        except ValueError:
            raise ItemError(f"path {path!r}: {where} is a list, {part!r} is not an index") from None
        except IndexError:
            raise ItemError(f"path {path!r}: index {part} is out of range at {where}") from None
    kind = "null" if current is None else type(current).__name__
    raise ItemError(f"path {path!r} not found: {where} is {kind}, not an object or list")


def mapped_items(document: Any, mapping: dict[str, str]) -> list[Any]:
    items = resolve_path(document, mapping["items"])
    if not isinstance(items, list):
        raise ItemError(
            f"path {mapping['items']!r} must lead to a list, got {type(items).__name__}"
        )
    return items


def map_item(item: Any, mapping: dict[str, str]) -> dict[str, Any]:
    """One API item as a normalized-shape dict (input for normalize_record)."""
    out: dict[str, Any] = {}
    for name, path in mapping.items():
        if name == "items":
            continue
        try:
            value = path[1:] if path.startswith("=") else resolve_path(item, path)
        except ItemError as exc:
            if name in REQUIRED_FIELDS:
                raise ItemError(f"{name}: {exc.message}") from None
            continue
        group, _, leaf = name.partition(".")
        if leaf:
            out.setdefault(group, {})[leaf] = value
        else:
            out[name] = value
    return out


def apply_mapping(document: Any, mapping: dict[str, str]) -> list[dict[str, Any]]:
    """All items mapped; raises at the first item whose required path is missing."""
    mapping = validate_mapping(mapping)
    result = []
    for index, item in enumerate(mapped_items(document, mapping)):
        try:
            result.append(map_item(item, mapping))
        except ItemError as exc:
            raise ItemError(f"item {index}: {exc.message}") from None
    return result


def _normalize_mapped(
    item: Any, mapping: dict[str, str], *, default_platform: str, now: datetime | None
) -> NormalizedItem:
    normalized = normalize_record(
        map_item(item, mapping), default_platform=default_platform, now=now
    )
    # Keep the API's own item for audit, not our intermediate dict.
    return dataclasses.replace(normalized, raw=item if isinstance(item, dict) else {"item": item})


def load_json_document(data: bytes, *, declared: str | None = None) -> Any:
    text, _ = decode_payload(data, declared=declared)
    try:
        return json.loads(text.lstrip("\ufeff"), strict=False)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise PayloadError("invalid JSON: nested too deeply") from None
    except ValueError as exc:
        raise PayloadError(f"invalid JSON: {exc}") from None


def parse_mapped(
    document: Any,
    mapping: dict[str, str],
    *,
    default_platform: str = "other",
    now: datetime | None = None,
) -> ParseResult:
    """What the poller calls: every item normalized or rejected with its 0-based index."""
    if isinstance(document, (bytes, bytearray)):
        document = load_json_document(bytes(document))
    mapping = validate_mapping(mapping)
    try:
        items = mapped_items(document, mapping)
    except ItemError as exc:
        raise PayloadError(exc.message) from None
    result = ParseResult(format="mapped")
    for index, item in enumerate(items):
        try:
            result.items.append(
                _normalize_mapped(item, mapping, default_platform=default_platform, now=now)
            )
        except ItemError as exc:
            result.rejected.append(Rejection(index=index, error=exc.message))
    result.items, result.duplicates_in_batch = dedupe_items(result.items)
    return result


@dataclass(slots=True)
class PreviewRow:
    index: int
    mapped: dict[str, Any] | None
    item: NormalizedItem | None
    error: str | None


@dataclass(slots=True)
class MappingPreview:
    rows: list[PreviewRow] = field(default_factory=list)
    total_items: int = 0
    error: str | None = None  # the mapping or the document as a whole is unusable


def preview_mapping(
    document: Any,
    mapping: object,
    limit: int = 5,
    *,
    default_platform: str = "other",
    now: datetime | None = None,
) -> MappingPreview:
    """For the admin form: the first items as they would be stored, or why not. Never raises
    for bad input, so the form can show the message."""
    try:
        if isinstance(document, (bytes, bytearray)):
            document = load_json_document(bytes(document))
        valid = validate_mapping(mapping)
        items = mapped_items(document, valid)
    except IngestError as exc:
        return MappingPreview(error=exc.message)
    preview = MappingPreview(total_items=len(items))
    for index, item in enumerate(items[:limit]):
        preview.rows.append(_preview_row(index, item, valid, default_platform, now))
    return preview


def _preview_row(
    index: int, item: Any, mapping: dict[str, str], default_platform: str, now: datetime | None
) -> PreviewRow:
    try:
        mapped = map_item(item, mapping)
    except ItemError as exc:
        return PreviewRow(index=index, mapped=None, item=None, error=exc.message)
    try:
        normalized = _normalize_mapped(item, mapping, default_platform=default_platform, now=now)
    except ItemError as exc:
        return PreviewRow(index=index, mapped=mapped, item=None, error=exc.message)
    return PreviewRow(index=index, mapped=mapped, item=normalized, error=None)
