"""Server-side SVG charts: valid XML, escaping, tooltips, CJK labels, CSP-safe, empty data."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as DET
import pytest

from monitoring.charts import (
    Series,
    bar_chart,
    format_number,
    format_percent,
    line_chart,
    resample,
    sparkline,
    time_ticks,
)

SH = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
NS = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=SH)


def parse(svg: str) -> Element:
    root = DET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def points(values, step=timedelta(minutes=1), start=T0):
    return [(start + n * step, v) for n, v in enumerate(values)]


def sample() -> str:
    return line_chart(
        [
            Series("微博", points([3, 5, 48, 30]), key="weibo"),
            Series("抖音", points([1, 0, 7, 9]), key="douyin"),
        ],
        title="声量 · 每分钟",
        y_label="条/分钟",
    )


def assert_csp_safe(svg: str) -> None:
    assert "style=" not in svg
    assert "<style" not in svg
    assert "<script" not in svg
    assert "href" not in svg  # nothing external, no links
    assert "url(" not in svg


def test_line_chart_is_valid_accessible_svg():
    svg = sample()
    root = parse(svg)
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    title = root.find(f"{NS}title")
    desc = root.find(f"{NS}desc")
    assert title.get("id") == title_id and title.text == "声量 · 每分钟"
    assert desc.get("id") == desc_id
    assert "微博: max 48 at 11-24 10:02" in desc.text
    assert "Noto Sans CJK SC" in root.get("font-family")
    assert_csp_safe(svg)


def test_every_point_has_a_tooltip_in_shanghai_time():
    # Points given in UTC are shown in Asia/Shanghai.
    utc_points = [(T0.astimezone(UTC) + timedelta(minutes=5 * n), v) for n, v in enumerate([1, 48])]
    root = parse(line_chart([Series("微博", utc_points)], title="t", y_label="y"))
    circles = root.findall(f".//{NS}circle")
    assert len(circles) == 2
    tips = [c.find(f"{NS}title").text for c in circles]
    assert tips == ["11-24 10:00 · 微博 · 1", "11-24 10:05 · 微博 · 48"]


def test_one_colour_and_legend_entry_per_series():
    svg = sample()
    root = parse(svg)
    strokes = [p.get("stroke") for p in root.findall(f".//{NS}polyline")]
    assert len(strokes) == 2 and len(set(strokes)) == 2
    legend = [t.text for t in root.iterfind(f".//{NS}g[@class='fh-legend']//{NS}text")]
    assert legend == ["微博", "抖音"]


def test_hostile_labels_are_escaped():
    nasty = "<script>alert(\"x\")</script> & 'co' \x00\x1b"
    svg = line_chart(
        [Series(nasty, points([1, 2]), color='red" onload="alert(1)')],
        title=nasty,
        y_label=nasty,
        markers=[(T0, nasty)],
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "&amp;" in svg
    assert "onload" not in svg  # a colour that is not #rgb/#rrggbb is replaced
    root = parse(svg)
    assert root.find(f"{NS}title").text == "<script>alert(\"x\")</script> & 'co' "
    assert_csp_safe(svg)


def test_empty_data_renders_a_no_data_chart():
    for series in ([], [Series("微博", [])], [Series("微博", [(T0, float("nan"))])]):
        svg = line_chart(series, title="影响力", y_label="粉丝", empty_text="暂无数据")
        root = parse(svg)
        texts = [t.text for t in root.iter(f"{NS}text")]
        assert "暂无数据" in texts
        assert root.find(f"{NS}desc").text == "暂无数据"
        assert root.findall(f".//{NS}circle") == []
        assert_csp_safe(svg)


def test_single_point_and_percent_format():
    root = parse(
        line_chart(
            [Series("微博", [(T0, 0.42)])],
            title="负面占比",
            y_label="占比",
            y_format=format_percent,
            y_max=1.0,
        )
    )
    (circle,) = root.findall(f".//{NS}circle")
    assert circle.find(f"{NS}title").text.endswith("· 42%")
    ticks = [t.text for t in root.iterfind(f".//{NS}g[@class='fh-axis']/{NS}text")]
    assert "100%" in ticks and "0%" in ticks


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (timedelta(minutes=30), timedelta(minutes=5)),
        (timedelta(hours=6), timedelta(hours=1)),
        (timedelta(days=2), timedelta(hours=6)),
        (timedelta(days=30), timedelta(days=7)),
    ],
)
def test_time_ticks_pick_round_local_steps(span, step):
    start = datetime(2026, 11, 24, 9, 7, tzinfo=SH)
    ticks, chosen = time_ticks(start, start + span, 8)
    assert chosen == step
    assert 1 <= len(ticks) <= 8
    for tick in ticks:
        local = tick.astimezone(SH)
        assert local.second == 0 and local.microsecond == 0
        if step < timedelta(days=1):
            midnight = local.replace(hour=0, minute=0)
            assert (local - midnight) % step == timedelta(0)
        else:
            assert (local.hour, local.minute) == (0, 0)


def test_day_long_chart_labels_dates_under_hours():
    hourly = points(range(48), step=timedelta(hours=1), start=datetime(2026, 11, 24, tzinfo=SH))
    root = parse(line_chart([Series("微博", hourly)], title="两天", y_label="条"))
    texts = [t.text for t in root.iterfind(f".//{NS}g[@class='fh-axis']/{NS}text")]
    assert "11-24" in texts and "11-25" in texts and "06:00" in texts


def test_markers_are_drawn_with_a_tooltip():
    root = parse(
        line_chart(
            [Series("微博", points([1, 2, 3]))],
            title="t",
            y_label="y",
            markers=[(T0 + timedelta(minutes=1), "预警")],
        )
    )
    marker = root.find(f".//{NS}g[@class='fh-marker']")
    assert marker.find(f"{NS}title").text == "11-24 10:01 · 预警"


def test_sparkline_and_bar_chart():
    spark = sparkline([1, 3, 2, 8], label="微博")
    root = parse(spark)
    assert root.get("role") == "img" and root.get("width") == "120"
    assert "latest 8" in root.find(f"{NS}desc").text
    assert_csp_safe(spark)
    assert "no data" in parse(sparkline([])).find(f"{NS}desc").text

    bars = bar_chart([("人民日报", 1.2e8), ("<b>", 50)], title="关键传播者", value_label="触达")
    root = parse(bars)
    tips = [r.find(f"{NS}title").text for r in root.iterfind(f".//{NS}rect") if len(r)]
    assert tips == ["人民日报 · 1.2亿", "<b> · 50"]
    assert_csp_safe(bars)
    assert "No data" in bar_chart([], title="t")


def test_number_formats():
    assert format_number(12_345) == "1.2万"
    assert format_number(340_000_000) == "3.4亿"
    assert format_number(48) == "48"
    assert format_number(3.14159) == "3.1"
    assert format_number(0.25) == "0.25"
    assert format_percent(0.421) == "42%"


def test_resample_to_hours_in_local_time():
    minutes = points([1] * 130, start=datetime(2026, 11, 24, 9, 30, tzinfo=SH))
    hourly = resample(minutes, timedelta(hours=1))
    assert [(t.hour, v) for t, v in hourly] == [(9, 30.0), (10, 60.0), (11, 40.0)]
    assert resample(minutes, timedelta(hours=1), "max")[0][1] == 1.0


def test_ids_are_stable_and_distinct_per_chart():
    a, b = sample(), sample()
    assert a == b
    other = line_chart([Series("x", points([1]))], title="other", y_label="y")
    ids = set(re.findall(r'id="([^"]+)"', a))
    assert ids.isdisjoint(re.findall(r'id="([^"]+)"', other))


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        line_chart([Series("x", [(datetime(2026, 11, 24, 10, 0), 1.0)])], title="t", y_label="y")
