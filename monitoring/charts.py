"""Server-side SVG charts: volume, negative share and reach over time, sparklines, bars.

Pure Python (no Django): each function returns an SVG string that is

- self-contained: no scripts, no external references, no fonts to fetch, a white
  background, so the same string can be inlined in a page, saved as a file or embedded in a
  PDF/DOCX report;
- CSP-safe: the console's Content-Security-Policy is ``style-src 'self'``, so there is no
  ``style`` attribute and no ``<style>`` element; only SVG presentation attributes (``fill``,
  ``stroke``, ``font-size``...) and class names (``fh-chart``, ``fh-series``...) that the
  site stylesheet may target;
- safe with hostile labels: every text and attribute value is XML-escaped and stripped of
  characters XML cannot carry, and colours are accepted only as ``#rgb``/``#rrggbb``;
- accessible: ``role="img"`` with ``aria-labelledby`` pointing at a ``<title>`` and a
  ``<desc>`` that summarises the data, and a ``<title>`` on every data point, which
  browsers show on hover ("11-24 10:05 · 微博 · 48").

Times are drawn in Asia/Shanghai whatever zone the points carry. Strings shown to users
(title, labels, ``empty_text``) come from the caller, already translated; the automatic
``<desc>`` summary uses numbers, labels and a few English words ("max", "latest").

Keep a series to a few hundred points (``resample`` turns minutes into hours): every point
is an element with its own tooltip.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape as _xml_escape
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
FONT_FAMILY = (
    "'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', 'Hiragino Sans GB', "
    "'Source Han Sans SC', sans-serif"
)
TEXT = "#1d2433"
MUTED = "#5b6478"
GRID = "#e5e8ee"
AXIS = "#9aa3b2"

# Platform colours stay the same on every chart, so a reader learns them once; they are far
# apart in hue and lightness (and lines also differ in dash pattern, for print and for
# colour-blind readers).
PLATFORM_COLORS = {
    "weibo": "#d4380d",
    "wechat": "#2e7d32",
    "douyin": "#1d2433",
    "xiaohongshu": "#c2185b",
    "news": "#1f6feb",
    "forum": "#8e6c00",
    "other": "#7b8494",
}
PALETTE = [
    "#1f6feb",
    "#d4380d",
    "#2e7d32",
    "#8e44ad",
    "#c2185b",
    "#8e6c00",
    "#0097a7",
    "#1d2433",
    "#e67e22",
    "#7b8494",
]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "10 4", "4 2 1 2"]

_INVALID_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_COLOR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    points: Sequence[tuple[datetime, float]]
    # A platform code ("weibo") picks the platform's colour; ``color`` overrides it.
    key: str = ""
    color: str | None = None


# --------------------------------------------------------------------------------------
# Formatting helpers


def format_number(value: float) -> str:
    """Counts the way Chinese readers expect them: 12,345 → 1.2万, 3.4e8 → 3.4亿."""
    if not math.isfinite(value):
        return "–"
    magnitude = abs(value)
    if magnitude >= 1e8:
        return f"{value / 1e8:.1f}".rstrip("0").rstrip(".") + "亿"
    if magnitude >= 1e6:
        return f"{value / 1e4:.0f}万"
    if magnitude >= 1e4:
        return f"{value / 1e4:.1f}".rstrip("0").rstrip(".") + "万"
    if magnitude >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}" if magnitude >= 1 else f"{value:.2f}".rstrip("0").rstrip(".")


def format_percent(value: float) -> str:
    """A share (0.42) as a percentage ("42%")."""
    if not math.isfinite(value):
        return "–"
    return f"{value * 100:.0f}%"


def escape(text: object) -> str:
    """Text or attribute value, safe for XML: escaped, with characters XML 1.0 cannot
    carry (control characters, lone surrogates) removed."""
    cleaned = _INVALID_XML.sub("", str(text))
    return _xml_escape(cleaned, {'"': "&quot;", "'": "&#x27;"})


def text_width(text: str, size: float) -> float:
    """Rough rendered width: CJK glyphs are square, Latin ones about 0.6 of the size."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


def resample(
    points: Iterable[tuple[datetime, float]],
    step: timedelta,
    how: str = "sum",
    *,
    tz: ZoneInfo = SHANGHAI,
) -> list[tuple[datetime, float]]:
    """Points grouped into ``step``-long buckets aligned to local midnight (sum, mean or
    max per bucket), e.g. per-minute rollups turned into an hourly series for a day-long
    chart. Empty buckets are left out."""
    if how not in ("sum", "mean", "max"):
        raise ValueError("how must be sum, mean or max")
    groups: dict[datetime, list[float]] = {}
    for moment, value in points:
        local = moment.astimezone(tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        start = midnight + ((local - midnight) // step) * step
        groups.setdefault(start, []).append(float(value))
    out = []
    for start in sorted(groups):
        values = groups[start]
        if how == "sum":
            out.append((start, sum(values)))
        elif how == "mean":
            out.append((start, sum(values) / len(values)))
        else:
            out.append((start, max(values)))
    return out


# --------------------------------------------------------------------------------------
# Line chart


_TIME_STEPS = [
    timedelta(minutes=m)
    for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 20160, 43200)
]


def time_ticks(
    start: datetime, end: datetime, max_ticks: int, tz: ZoneInfo = SHANGHAI
) -> tuple[list[datetime], timedelta]:
    """Tick moments between start and end at a round step (minutes, hours or days, in
    local time), at most ``max_ticks`` of them."""
    span = end - start
    step = _TIME_STEPS[-1]
    for candidate in _TIME_STEPS:
        if span / candidate <= max(1, max_ticks):
            step = candidate
            break
    local = start.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    tick = midnight + math.ceil((local - midnight) / step) * step
    ticks = []
    while tick <= end:
        ticks.append(tick)
        tick += step
    return ticks, step


def nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * 10**exponent >= value - 1e-12:
            return m * 10**exponent
    return 10 ** (exponent + 1)


def value_ticks(top: float, count: int = 4) -> list[float]:
    raw = top / count
    exponent = math.floor(math.log10(raw)) if raw > 0 else 0
    step = 10**exponent
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**exponent >= raw - 1e-12:
            step = m * 10**exponent
            break
    ticks, v = [], 0.0
    while v <= top + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _colors(series: Sequence[Series]) -> list[str]:
    """A distinct colour per series: explicit, then the platform's, then the palette."""
    chosen: list[str] = []
    for s in series:
        wanted = s.color if s.color and _COLOR.fullmatch(s.color) else None
        wanted = wanted or PLATFORM_COLORS.get(s.key)
        if wanted is None or wanted in chosen:
            wanted = next((c for c in PALETTE if c not in chosen), PALETTE[len(chosen) % 10])
        chosen.append(wanted)
    return chosen


def _clean(points: Iterable[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    out = []
    for moment, value in points:
        if moment.tzinfo is None:
            raise ValueError("chart points need timezone-aware datetimes")
        v = float(value)
        if math.isfinite(v):
            out.append((moment, v))
    out.sort(key=lambda p: p[0])
    return out


def _local_label(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%m-%d %H:%M")


def chart_id(*parts: object) -> str:
    digest = hashlib.sha1(repr(parts).encode("utf-8"), usedforsecurity=False).hexdigest()
    return "fh" + digest[:10]


def open_svg(width: int, height: int, prefix: str, css_class: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{prefix}-title {prefix}-desc" class="{css_class}" '
        f'font-family="{escape(FONT_FAMILY)}" font-size="12" fill="{TEXT}">',
    ]


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str,
    width: int = 720,
    height: int = 260,
    y_format: Callable[[float], str] = format_number,
    y_max: float | None = None,
    desc: str | None = None,
    empty_text: str = "No data",
    markers: Sequence[tuple[datetime, str]] = (),
    tz: ZoneInfo = SHANGHAI,
) -> str:
    """One line per series over a shared time axis, with a legend and a tooltip per point.

    ``y_format`` formats axis ticks and tooltips (``format_percent`` for shares);
    ``y_max`` fixes the top of the axis (1.0 for shares); ``markers`` draws labelled
    vertical lines (an alert, a statement going out).
    """
    cleaned = [Series(s.label, _clean(s.points), s.key, s.color) for s in series]
    drawn = [s for s in cleaned if s.points]
    prefix = chart_id(title, y_label, width, height, [(s.label, s.points) for s in cleaned])
    out = open_svg(width, height, prefix, "fh-chart fh-line-chart")
    all_points = [p for s in drawn for p in s.points]

    # The summary read out by screen readers, and kept with the chart in a report.
    if desc is None:
        if not all_points:
            desc = empty_text
        else:
            first = min(p[0] for p in all_points)
            last = max(p[0] for p in all_points)
            parts = [f"{_local_label(first, tz)} – {_local_label(last, tz)} ({tz.key})"]
            for s in drawn:
                peak = max(s.points, key=lambda p: p[1])
                parts.append(
                    f"{s.label}: max {y_format(peak[1])} at {_local_label(peak[0], tz)}, "
                    f"latest {y_format(s.points[-1][1])}"
                )
            desc = "; ".join(parts)
    out.append(f'<title id="{prefix}-title">{escape(title)}</title>')
    out.append(f'<desc id="{prefix}-desc">{escape(desc)}</desc>')
    out.append(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    out.append(
        f'<text x="12" y="20" font-size="14" font-weight="bold" class="fh-chart-title">'
        f"{escape(title)}</text>"
    )

    # Legend: one row, wrapped when it does not fit.
    colors = _colors(cleaned)
    legend_y, x = 40.0, 12.0
    legend: list[str] = []
    for n, s in enumerate(cleaned):
        item_width = 30 + text_width(s.label, 12) + 18
        if x + item_width > width - 12 and x > 12:
            x, legend_y = 12.0, legend_y + 18
        dash = DASHES[n % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        legend.append(
            f'<g class="fh-legend-item"><line x1="{_n(x)}" y1="{_n(legend_y - 4)}" '
            f'x2="{_n(x + 22)}" y2="{_n(legend_y - 4)}" stroke="{colors[n]}" '
            f'stroke-width="2.5"{dash_attr}/>'
            f'<text x="{_n(x + 28)}" y="{_n(legend_y)}">{escape(s.label)}</text></g>'
        )
        x += item_width
    if legend:
        out.append(f'<g class="fh-legend">{"".join(legend)}</g>')

    top = legend_y + 22 if legend else 40.0
    bottom = height - 40.0
    if bottom - top < 40:
        top = max(28.0, bottom - 40)

    if not all_points:
        out.append(
            f'<rect x="12" y="{_n(top)}" width="{width - 24}" height="{_n(bottom - top + 20)}" '
            f'fill="#f6f7f9" stroke="{GRID}"/>'
        )
        out.append(
            f'<text x="{width / 2:.1f}" y="{(top + bottom + 20) / 2 + 5:.1f}" '
            f'text-anchor="middle" font-size="14" fill="{MUTED}" class="fh-chart-empty">'
            f"{escape(empty_text)}</text>"
        )
        out.append("</svg>")
        return "".join(out)

    # Axes ranges.
    t0 = min(p[0] for p in all_points)
    t1 = max(p[0] for p in all_points)
    if t1 == t0:
        t0, t1 = t0 - timedelta(minutes=30), t1 + timedelta(minutes=30)
    low = min(0.0, min(p[1] for p in all_points))
    high = y_max if y_max is not None else nice_ceiling(max(p[1] for p in all_points))
    if high <= low:
        high = low + 1.0
    ticks_y = [low + v for v in value_ticks(high - low)]
    label_width = max(text_width(y_format(v), 11) for v in ticks_y)
    left = 12 + label_width + 8
    right = width - 16.0
    plot_w = right - left

    def sx(moment: datetime) -> float:
        return left + (moment - t0) / (t1 - t0) * plot_w

    def sy(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    # Y label above the axis: horizontal, so CJK reads naturally.
    out.append(
        f'<text x="12" y="{_n(top - 10)}" font-size="11" fill="{MUTED}" '
        f'class="fh-axis-label">{escape(y_label)}</text>'
    )
    grid = [f'<g class="fh-grid" stroke="{GRID}" stroke-width="1">']
    labels = [f'<g class="fh-axis" font-size="11" fill="{MUTED}">']
    for v in ticks_y:
        y = sy(v)
        if y < top - 0.5:
            continue
        grid.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(right)}" y2="{_n(y)}"/>')
        labels.append(
            f'<text x="{_n(left - 6)}" y="{_n(y + 4)}" text-anchor="end">'
            f"{escape(y_format(v))}</text>"
        )
    ticks_x, step = time_ticks(t0, t1, int(plot_w // 80), tz)
    previous_day = None
    for moment in ticks_x:
        x = sx(moment)
        local = moment.astimezone(tz)
        grid.append(f'<line x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" y2="{_n(bottom)}"/>')
        if step >= timedelta(days=1):
            labels.append(
                f'<text x="{_n(x)}" y="{_n(bottom + 16)}" text-anchor="middle">{local:%m-%d}</text>'
            )
            continue
        labels.append(
            f'<text x="{_n(x)}" y="{_n(bottom + 16)}" text-anchor="middle">{local:%H:%M}</text>'
        )
        if local.date() != previous_day:
            labels.append(
                f'<text x="{_n(x)}" y="{_n(bottom + 30)}" text-anchor="middle">{local:%m-%d}</text>'
            )
            previous_day = local.date()
    grid.append("</g>")
    labels.append("</g>")
    out += grid + labels
    out.append(
        f'<line x1="{_n(left)}" y1="{_n(bottom)}" x2="{_n(right)}" y2="{_n(bottom)}" '
        f'stroke="{AXIS}" stroke-width="1" class="fh-axis-line"/>'
    )

    for moment, label in markers:
        if moment.tzinfo is None or not t0 <= moment <= t1:
            continue
        x = sx(moment)
        out.append(
            f'<g class="fh-marker"><line x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" '
            f'y2="{_n(bottom)}" stroke="{MUTED}" stroke-width="1" stroke-dasharray="3 3"/>'
            f'<text x="{_n(x + 3)}" y="{_n(top + 10)}" font-size="10" fill="{MUTED}">'
            f"{escape(label)}</text>"
            f"<title>{escape(_local_label(moment, tz))} · {escape(label)}</title></g>"
        )

    many = max(len(s.points) for s in drawn) > 150
    radius = "1.6" if many else "2.6"
    for n, s in enumerate(cleaned):
        if not s.points:
            continue
        color = colors[n]
        dash = DASHES[n % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        coords = " ".join(f"{_n(sx(t))},{_n(sy(v))}" for t, v in s.points)
        out.append(
            f'<g class="fh-series fh-series-{n}">'
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2" '
            f'stroke-linejoin="round" stroke-linecap="round"{dash_attr}/>'
            f'<g fill="{color}">'
        )
        label = escape(s.label)
        for t, v in s.points:
            out.append(
                f'<circle cx="{_n(sx(t))}" cy="{_n(sy(v))}" r="{radius}">'
                f"<title>{_local_label(t, tz)} · {label} · {escape(y_format(v))}</title>"
                f"</circle>"
            )
        out.append("</g></g>")
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------------------
# Sparkline and bars


def sparkline(
    values: Sequence[float],
    width: int = 120,
    height: int = 28,
    *,
    label: str = "",
    color: str = "#1f6feb",
    value_format: Callable[[float], str] = format_number,
) -> str:
    """A tiny trend line for a table cell; the last value is marked with a dot."""
    color = color if _COLOR.fullmatch(color) else PALETTE[0]
    clean = [float(v) if math.isfinite(float(v)) else 0.0 for v in values]
    prefix = chart_id("spark", label, clean, width, height)
    if clean:
        summary = (
            f"{label + ': ' if label else ''}latest {value_format(clean[-1])}, "
            f"max {value_format(max(clean))}, {len(clean)} values"
        )
    else:
        summary = f"{label + ': ' if label else ''}no data"
    out = open_svg(width, height, prefix, "fh-sparkline")
    out.append(f'<title id="{prefix}-title">{escape(label or summary)}</title>')
    out.append(f'<desc id="{prefix}-desc">{escape(summary)}</desc>')
    pad = 3.0
    if not clean:
        y = height - pad
        out.append(
            f'<line x1="{pad}" y1="{_n(y)}" x2="{width - pad}" y2="{_n(y)}" stroke="{GRID}" '
            f'stroke-width="1.5"/></svg>'
        )
        return "".join(out)
    low, high = min(0.0, min(clean)), max(clean)
    span = (high - low) or 1.0
    count = len(clean)

    def sx(i: int) -> float:
        return pad + (i / (count - 1) if count > 1 else 1.0) * (width - 2 * pad)

    def sy(v: float) -> float:
        return height - pad - (v - low) / span * (height - 2 * pad)

    coords = " ".join(f"{_n(sx(i))},{_n(sy(v))}" for i, v in enumerate(clean))
    out.append(
        f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5" '
        f'stroke-linejoin="round"/>'
    )
    out.append(
        f'<circle cx="{_n(sx(count - 1))}" cy="{_n(sy(clean[-1]))}" r="2" fill="{color}">'
        f"<title>{escape(summary)}</title></circle></svg>"
    )
    return "".join(out)


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    value_label: str = "",
    width: int = 720,
    bar_height: int = 20,
    value_format: Callable[[float], str] = format_number,
    color: str = "#1f6feb",
    empty_text: str = "No data",
    desc: str | None = None,
) -> str:
    """Horizontal bars, largest first as given (e.g. key spreaders, posts per platform);
    the height follows the number of bars."""
    color = color if _COLOR.fullmatch(color) else PALETTE[0]
    clean = [(label, float(v)) for label, v in bars if math.isfinite(float(v))]
    prefix = chart_id("bars", title, clean, width)
    top = 48.0 if value_label else 36.0
    height = int(top + max(1, len(clean)) * (bar_height + 8) + 12)
    if desc is None:
        desc = "; ".join(f"{label}: {value_format(v)}" for label, v in clean) or empty_text
    out = open_svg(width, height, prefix, "fh-chart fh-bar-chart")
    out.append(f'<title id="{prefix}-title">{escape(title)}</title>')
    out.append(f'<desc id="{prefix}-desc">{escape(desc)}</desc>')
    out.append(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    out.append(
        f'<text x="12" y="20" font-size="14" font-weight="bold" class="fh-chart-title">'
        f"{escape(title)}</text>"
    )
    if value_label:
        out.append(
            f'<text x="12" y="38" font-size="11" fill="{MUTED}" class="fh-axis-label">'
            f"{escape(value_label)}</text>"
        )
    if not clean:
        out.append(
            f'<text x="{width / 2:.1f}" y="{top + 16:.1f}" text-anchor="middle" '
            f'font-size="14" fill="{MUTED}" class="fh-chart-empty">{escape(empty_text)}</text>'
            "</svg>"
        )
        return "".join(out)
    label_width = min(width * 0.35, max(text_width(label, 12) for label, _ in clean) + 8)
    left = 12 + label_width
    high = max(max(v for _, v in clean), 0.0) or 1.0
    room = width - left - 12 - 60
    out.append(f'<g class="fh-bars" fill="{color}">')
    for n, (label, value) in enumerate(clean):
        y = top + n * (bar_height + 8)
        w = max(1.0, max(value, 0.0) / high * room)
        shown = label
        while text_width(shown, 12) > label_width - 8 and len(shown) > 1:
            shown = shown[:-2] + "…"
        out.append(
            f'<text x="{_n(left - 8)}" y="{_n(y + bar_height * 0.7)}" text-anchor="end" '
            f'fill="{TEXT}">{escape(shown)}</text>'
            f'<rect x="{_n(left)}" y="{_n(y)}" width="{_n(w)}" height="{bar_height}" rx="2">'
            f"<title>{escape(label)} · {escape(value_format(value))}</title></rect>"
            f'<text x="{_n(left + w + 6)}" y="{_n(y + bar_height * 0.7)}" fill="{MUTED}">'
            f"{escape(value_format(value))}</text>"
        )
    out.append("</g></svg>")
    return "".join(out)
