"""Coercion of single field values: text, ids, counts, flags, URLs, places.

Every function takes the field name so that the ItemError it raises names the field.
These run for every record, so they avoid work on the common clean path.
"""

from __future__ import annotations

import html
import math
import re
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from monitoring.platforms import PLATFORMS, platform_code

from .errors import ItemError

MAX_TEXT_CHARS = 10_000
MAX_TITLE_CHARS = 500
MAX_NAME_CHARS = 200
MAX_ID_CHARS = 128
MAX_URL_CHARS = 2048
MAX_BIGINT = 2**63 - 1
# HTML is cut to this size before tag stripping so hostile input cannot make the regexes
# below work on megabytes; generous because markup can be 5-10x the text it carries.
_MAX_RAW_TEXT_CHARS = 20 * MAX_TEXT_CHARS

# [^<>] (not [^>]) keeps every scan bounded by the next angle bracket: a text full of
# unclosed "<a" would otherwise make tag stripping quadratic.
_SCRIPT_STYLE_RE = re.compile(r"<(script|style)\b[^<>]*>.*?(?:</\1\s*>|\Z)", re.I | re.S)
_COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
# Weibo renders its emoticons as <img alt="[哭]">; the bracketed word carries sentiment,
# every other image is dropped.
_EMOTICON_RE = re.compile(r"""<img\b[^<>]*?\balt=["']?(\[[^\]<>"']{1,12}\])[^<>]*>""", re.I)
_BREAK_RE = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/tr|/blockquote)\b[^<>]*>", re.I)
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>|<![^<>]*>|<\?[^<>]*>")
_HTML_HINT_RE = re.compile(r"<[A-Za-z/!?]|&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z]+\d*);")
_HSPACE_RE = re.compile(r"[ \t\f\v\xa0\u3000]+")
_NEWLINES_RE = re.compile(r" ?\n[ \n]*")
# C0/C1 controls except tab and newline, lone surrogates (unencodable, PostgreSQL rejects
# them), BOM/non-characters, and bidi overrides (they can make a post display as
# something other than what it says).
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff\u202a-\u202e\u2066-\u2069]"
)
_WHITESPACE_RE = re.compile(r"\s")
_SCI_NOTATION_RE = re.compile(r"^\d(?:\.\d+)?[eE][+-]?\d+$")
_COUNT_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(万|w|W|千|k|K|亿|m|M)?\s*\+?")
_COUNT_UNITS = {
    None: 1,
    "万": 10_000,
    "w": 10_000,
    "W": 10_000,
    "千": 1_000,
    "k": 1_000,
    "K": 1_000,
    "亿": 100_000_000,
    "m": 1_000_000,
    "M": 1_000_000,
}
# What crawlers write for "no value": str(None) from Python, JSON-ish nulls, dashes.
_NULL_STRINGS = frozenset({"", "none", "null", "nil", "nan", "-", "--", "—", "n/a"})
_TRUE_STRINGS = frozenset({"true", "1", "yes", "y", "t", "是", "认证", "verified"})
_FALSE_STRINGS = frozenset({"false", "0", "no", "n", "f", "否", "普通用户", "未认证"})
_LOCATION_PREFIXES = ("发布于", "IP属地：", "IP属地:", "IP属地", "来自")


def type_name(value: object) -> str:
    return type(value).__name__


def html_to_text(value: str) -> str:
    # The substring tests skip whole regex passes on the common, simpler markup.
    lowered = value.lower()
    if "<script" in lowered or "<style" in lowered:
        value = _SCRIPT_STYLE_RE.sub("", value)
    if "<!--" in value:
        value = _COMMENT_RE.sub("", value)
    if "<img" in lowered:
        value = _EMOTICON_RE.sub(r"\1", value)
    has_tags = "<" in value
    if has_tags:
        value = _BREAK_RE.sub("\n", value)
        value = _TAG_RE.sub("", value)
    if "&" in value:
        value = html.unescape(value)
    if has_tags:
        # Whitespace in markup is layout, not content.
        value = _HSPACE_RE.sub(" ", value)
        value = _NEWLINES_RE.sub(_collapse_newlines, value)
    return value


def _collapse_newlines(match: re.Match[str]) -> str:
    return "\n\n" if match.group().count("\n") > 1 else "\n"


def strip_controls(value: str) -> str:
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", value)


def clean_text(value: object, field: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """Plain text, required non-empty: HTML stripped, controls removed, capped at limit."""
    if value is None:
        raise ItemError(f"{field} is missing")
    if not isinstance(value, str):
        raise ItemError(f"{field} must be a string, got {type_name(value)}")
    if len(value) > _MAX_RAW_TEXT_CHARS:
        value = value[:_MAX_RAW_TEXT_CHARS]
    if _HTML_HINT_RE.search(value):
        value = html_to_text(value)
    value = strip_controls(value).strip()
    if not value:
        raise ItemError(f"{field} is empty")
    if len(value) > limit:
        value = value[:limit].rstrip()
    return value


def optional_text(value: object, field: str, *, limit: int = MAX_TITLE_CHARS) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    try:
        return clean_text(value, field, limit=limit)
    except ItemError:
        if isinstance(value, str):
            return None  # only whitespace / markup: treat as absent
        raise


def clean_id(value: object, field: str) -> str | None:
    """An identifier as a string; ints are common (JSON numbers), tabs and spaces are not."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ItemError(f"{field} must be a string or integer, got bool")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        raise ItemError(f"{field} must be a string or integer, got float {value!r}")
    if not isinstance(value, str):
        raise ItemError(f"{field} must be a string or integer, got {type_name(value)}")
    value = strip_controls(value).strip()
    if not value or value.lower() in _NULL_STRINGS:
        return None
    if len(value) > MAX_ID_CHARS:
        raise ItemError(f"{field} is longer than {MAX_ID_CHARS} characters")
    if _SCI_NOTATION_RE.match(value):
        raise ItemError(
            f"{field} {value!r} is in scientific notation: the id was mangled by a "
            "spreadsheet and its digits are lost"
        )
    return value


def required_id(value: object, field: str) -> str:
    result = clean_id(value, field)
    if result is None:
        raise ItemError(f"{field} is missing")
    return result


def clean_count(value: object, field: str) -> int | None:
    """A non-negative count: int, numeric string, "1.2万" / "3.5w" / "2k" / "10万+"."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ItemError(f"{field} must be a number, got bool")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise ItemError(f"{field} must be a whole number, got {value!r}")
        number = int(value)
    elif isinstance(value, str):
        return _count_from_string(value, field)
    else:
        raise ItemError(f"{field} must be a number, got {type_name(value)}")
    return _check_count_range(number, field)


def _count_from_string(value: str, field: str) -> int | None:
    text = value.strip().replace(",", "").replace("，", "")
    if text.lower() in _NULL_STRINGS:
        return None
    if text.isdigit() and text.isascii():
        return _check_count_range(int(text), field)
    if text.startswith("-") and text[1:].strip()[:1].isdigit():
        raise ItemError(f"{field} is negative ({value.strip()!r})")
    match = _COUNT_RE.fullmatch(text)
    if match is None:
        raise ItemError(f"{field} is not a count: {value[:40]!r}")
    try:
        number = int(Decimal(match.group(1)) * _COUNT_UNITS[match.group(2)])
    except InvalidOperation as exc:  # pragma: no cover - the regex only admits decimals
        raise ItemError(f"{field} is not a count: {value[:40]!r}") from exc
    return _check_count_range(number, field)


def _check_count_range(number: int, field: str) -> int:
    if number < 0:
        raise ItemError(f"{field} is negative ({number})")
    if number > MAX_BIGINT:
        raise ItemError(f"{field} is too large ({str(number)[:30]}...)")
    return number


def clean_flag(value: object, field: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_STRINGS or (len(text) <= 3 and text.endswith("v")):  # 蓝V, 黄V...
            return True
        if text in _FALSE_STRINGS or text in _NULL_STRINGS:
            return False
    raise ItemError(f"{field} must be true or false, got {str(value)[:40]!r}")


def clean_url(value: object, field: str) -> str | None:
    """Keep only absolute http(s) URLs; everything else (javascript:, data:, junk) is dropped."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ItemError(f"{field} must be a string, got {type_name(value)}")
    url = strip_controls(value).strip()
    if url.startswith("//"):
        url = "https:" + url
    if len(url) > MAX_URL_CHARS or _WHITESPACE_RE.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def clean_location(value: object, field: str) -> str | None:
    text = optional_text(value, field, limit=MAX_NAME_CHARS)
    if text is None:
        return None
    for prefix in _LOCATION_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    return text or None


def pick(record: dict[str, object], *keys: str) -> object:
    """First value under keys that is neither missing nor an empty string."""
    for key in keys:
        value = record.get(key)
        if value is not None and value != "":
            return value
    return None


def clean_platform(value: object, field: str, *, default: str) -> str:
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise ItemError(f"{field} must be a string, got {type_name(value)}")
    code = platform_code(value)
    if code is None:
        raise ItemError(f"{field} {value[:40]!r} is not one of {', '.join(PLATFORMS)}")
    return code
