"""Timestamps from every collector format, made aware and checked for plausibility.

Naive times are Asia/Shanghai. China has had no daylight saving time since 1991 and we
reject anything before 2000, so a fixed +08:00 offset is exact and needs no tz database.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from .errors import ItemError

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
EARLIEST = datetime(2000, 1, 1, tzinfo=SHANGHAI)
MAX_FUTURE = timedelta(days=1)
_EARLIEST_EPOCH = EARLIEST.timestamp()
# Epoch values above this are milliseconds: 1e11 seconds is the year 5138, while 1e11
# milliseconds is 1973, so no plausible value of either unit falls on the wrong side.
_MS_THRESHOLD = 1e11
_WEIBO_FORMAT = "%a %b %d %H:%M:%S %z %Y"
_WEIBO_RE = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2} \d\d:\d\d:\d\d [+-]\d{4} \d{4}$")
_CHINESE_DATE_RE = re.compile(
    r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(?:(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
_NUMERIC_RE = re.compile(r"^\d+(?:\.\d+)?$")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}


def parse_time(value: object, field: str, *, now: datetime) -> datetime:
    """Parse and bound-check; now must be aware."""
    if value is None or value == "":
        raise ItemError(f"{field} is missing")
    if isinstance(value, bool):
        raise ItemError(f"{field} must be a date/time or epoch number, got bool")
    if isinstance(value, (int, float)):
        return _from_epoch(float(value), field, now)
    if isinstance(value, datetime):
        return _check_bounds(_aware(value), field, now)
    if not isinstance(value, str):
        kind = type(value).__name__
        raise ItemError(f"{field} must be a date/time string or epoch number, got {kind}")
    return _check_bounds(_parse_string(value.strip(), field, now), field, now)


def _parse_string(text: str, field: str, now: datetime) -> datetime:
    if _NUMERIC_RE.match(text):
        return _from_epoch(float(text), field, now)
    try:
        return _aware(datetime.fromisoformat(text.replace("/", "-") if text[4:5] == "/" else text))
    except ValueError:
        pass
    if _WEIBO_RE.match(text):
        return _parse_weibo(text, field)
    match = _CHINESE_DATE_RE.match(text)
    if match:
        return _parse_chinese(match, field)
    try:
        parsed = parsedate_to_datetime(text)  # RFC 2822, as in RSS pubDate
    except (TypeError, ValueError, IndexError, OverflowError):
        parsed = None
    if parsed is None:
        raise ItemError(f"{field} is not a recognised date/time: {text[:40]!r}")
    return _aware(parsed)


def _parse_weibo(text: str, field: str) -> datetime:
    # "Tue Nov 24 10:00:00 +0800 2026", parsed by hand: strptime's %a/%b follow the locale.
    _, month, day, clock, offset, year = text.split()
    try:
        hours, minutes, seconds = (int(part) for part in clock.split(":"))
        sign = 1 if offset[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        return datetime(int(year), _MONTHS[month], int(day), hours, minutes, seconds, tzinfo=tz)
    except (KeyError, ValueError) as exc:
        raise ItemError(f"{field} is not a valid date/time: {text[:40]!r}") from exc


def _parse_chinese(match: re.Match[str], field: str) -> datetime:
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)
    except ValueError as exc:
        raise ItemError(f"{field} is not a valid date/time: {match.group()!r}") from exc


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def _from_epoch(seconds: float, field: str, now: datetime) -> datetime:
    if not math.isfinite(seconds):
        raise ItemError(f"{field} is not a finite number")
    if seconds >= _MS_THRESHOLD:
        seconds /= 1000.0
    # Bounds are checked on the number first: datetime.fromtimestamp overflows on junk.
    if seconds < _EARLIEST_EPOCH:
        raise ItemError(_too_early_message(field, f"epoch {seconds:.0f}"))
    if seconds > (now + MAX_FUTURE).timestamp():
        raise ItemError(_too_late_message(field, f"epoch {seconds:.0f}"))
    return datetime.fromtimestamp(seconds, SHANGHAI)


def _check_bounds(value: datetime, field: str, now: datetime) -> datetime:
    if value < EARLIEST:
        raise ItemError(_too_early_message(field, value.isoformat()))
    if value > now + MAX_FUTURE:
        raise ItemError(_too_late_message(field, value.isoformat()))
    # One zone for every item, so stored and displayed times read alike.
    return value.astimezone(SHANGHAI)


def _too_early_message(field: str, shown: str) -> str:
    return f"{field} {shown} is before 2000-01-01: probably a zero or wrong-unit timestamp"


def _too_late_message(field: str, shown: str) -> str:
    return f"{field} {shown} is more than 1 day in the future"


def utc_now() -> datetime:
    return datetime.now(UTC)
