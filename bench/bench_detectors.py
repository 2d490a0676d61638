"""Detector quality on the committed synthetic series: misses, false alarms, delay.

    .venv/bin/python bench/bench_detectors.py            # tables as Markdown on stdout
    .venv/bin/python bench/bench_detectors.py --out docs/benchmarks-detection.md

Every series in bench/data/detector_series/ is replayed minute by minute through
``evaluate_bucket`` (the closed-minute path) and, separately, with ``evaluate_partial``
called 15, 30 and 45 seconds into every minute as well (the live path: posts of a minute
arrive at uniformly random seconds, drawn with a fixed seed). For each series-based detector
(volume_spike, negative_surge, coordinated_posting) and each series it counts:

- events / detected / missed: ground-truth events of the detector's kind, and whether an
  alert of that kind fell inside the event's window;
- false alarms: alerts of the kind outside every event window of the series;
- delay: from the event's start to the first alert, in minutes of wall-clock time. A
  closed minute is judged when it ends, so an alert on the event's first minute has a delay
  of 1.0; a partial alert 15 s into that minute has 0.25.

Then the same totals for a few alternative configurations (the trade-off behind the
defaults), and the per-mention rules against a handful of labelled cases.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitoring.detection import (  # noqa: E402
    DEFAULT_CONFIG,
    Bucket,
    DetectionConfig,
    DetectorState,
    MentionFacts,
    SignalKind,
    check_mention,
    evaluate_bucket,
    evaluate_partial,
)
from monitoring.detection.series import SyntheticSeries, load_all  # noqa: E402

DATA = ROOT / "bench" / "data" / "detector_series"
SERIES_KINDS = [
    SignalKind.VOLUME_SPIKE,
    SignalKind.NEGATIVE_SURGE,
    SignalKind.COORDINATED_POSTING,
]
PARTIAL_SECONDS = (15.0, 30.0, 45.0)


@dataclass
class Cell:
    events: int = 0
    detected: int = 0
    false_alarms: int = 0
    delays: list[float] = field(default_factory=list)

    @property
    def missed(self) -> int:
        return self.events - self.detected


def alert_times(
    series: SyntheticSeries, config: DetectionConfig, *, partial: bool
) -> dict[str, list[float]]:
    """Wall-clock alert times (minutes since the series start) per kind."""
    rng = random.Random(series.seed * 7919)
    state = DetectorState()
    times: dict[str, list[float]] = {}
    for i, bucket in enumerate(series.buckets()):
        if partial:
            # Arrival second of each post (and whether it is negative) within the minute.
            arrivals = sorted(
                (rng.random() * 60.0, n < bucket.negative) for n in range(bucket.volume)
            )
            for elapsed in PARTIAL_SECONDS:
                seen = [neg for at, neg in arrivals if at <= elapsed]
                part = Bucket(
                    bucket.minute,
                    len(seen),
                    sum(seen),
                    len(seen) * 800,
                    bucket.max_cluster_accounts,
                )
                state, found = evaluate_partial(state, part, elapsed, config)
                for s in found:
                    times.setdefault(s.kind, []).append(i + elapsed / 60.0)
        state, found = evaluate_bucket(state, bucket, config)
        for s in found:
            times.setdefault(s.kind, []).append(i + 1.0)
    return times


def score(series: SyntheticSeries, times: dict[str, list[float]]) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    for kind in SERIES_KINDS:
        cell = Cell()
        events = [e for e in series.events if e.kind == kind]
        cell.events = len(events)
        alerts = times.get(kind, [])
        matched: set[int] = set()
        for event in events:
            # An alert "at" wall time t concerns minute floor(t - tiny): a closed-minute
            # alert at start+1.0 is about the event's first minute.
            inside = [t for t in alerts if event.start < t <= event.end + 1]
            if inside:
                cell.detected += 1
                cell.delays.append(min(inside) - event.start)
                matched.update(n for n, t in enumerate(alerts) if event.start < t <= event.end + 1)
        cell.false_alarms = len(alerts) - len(matched)
        cells[kind] = cell
    return cells


def evaluate(config: DetectionConfig, all_series: list[SyntheticSeries], *, partial: bool):
    return {s.name: score(s, alert_times(s, config, partial=partial)) for s in all_series}


def _delay(cell: Cell) -> str:
    if not cell.delays:
        return "–"
    return ", ".join(f"{d:.2f}" for d in cell.delays)


def detector_table(
    full: dict[str, dict[str, Cell]], live: dict[str, dict[str, Cell]], kind: str
) -> list[str]:
    rows = [
        f"#### {kind}",
        "",
        "| series | events | missed | false alarms | delay (min) | with partial: missed "
        "| false alarms | delay (min) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in full:
        a, b = full[name][kind], live[name][kind]
        rows.append(
            f"| {name} | {a.events} | {a.missed} | {a.false_alarms} | {_delay(a)} "
            f"| {b.missed} | {b.false_alarms} | {_delay(b)} |"
        )
    return rows


def totals(results: dict[str, dict[str, Cell]]) -> tuple[int, int, int, list[float]]:
    events = missed = fa = 0
    delays: list[float] = []
    for cells in results.values():
        for cell in cells.values():
            events += cell.events
            missed += cell.missed
            fa += cell.false_alarms
            delays += cell.delays
    return events, missed, fa, delays


def variants() -> list[tuple[str, DetectionConfig]]:
    d = DEFAULT_CONFIG

    def tweak(section: str, **changes: object) -> DetectionConfig:
        return dataclasses.replace(
            d, **{section: dataclasses.replace(getattr(d, section), **changes)}
        )

    return [
        ("defaults", d),
        ("volume z 5", tweak("volume", z_threshold=5.0)),
        ("volume z 7", tweak("volume", z_threshold=7.0)),
        ("volume min_ratio 1.5", tweak("volume", min_ratio=1.5)),
        ("volume window 1 (no window)", tweak("volume", window_minutes=1)),
        ("baseline half-life 15 min", tweak("baseline", half_life_minutes=15.0)),
        ("baseline half-life 240 min", tweak("baseline", half_life_minutes=240.0)),
        ("no clipping of bursts", tweak("baseline", clip_sigmas=1e9)),
        ("negative margin 0.15", tweak("negative", margin=0.15)),
        ("negative margin 0.25", tweak("negative", margin=0.25)),
        ("negative z 4", tweak("negative", z_threshold=4.0)),
        ("negative z 5", tweak("negative", z_threshold=5.0)),
        ("negative short window 1 min", tweak("negative", short_window_minutes=1)),
        ("coordinated z 4", tweak("coordinated", z_threshold=4.0)),
        ("coordinated z 0 (absolute only)", tweak("coordinated", z_threshold=0.0)),
        ("cooldown 10 min", dataclasses.replace(d, cooldown_minutes=10)),
        ("partial minute judges negative share too", tweak("partial", include_negative=True)),
    ]


def variant_table(all_series: list[SyntheticSeries]) -> list[str]:
    rows = [
        "| configuration | events | missed | false alarms | mean delay | max delay "
        "| with partial: missed | false alarms | mean delay |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, config in variants():
        e, m, fa, ds = totals(evaluate(config, all_series, partial=False))
        _, pm, pfa, pds = totals(evaluate(config, all_series, partial=True))
        mean = f"{sum(ds) / len(ds):.2f}" if ds else "–"
        worst = f"{max(ds):.2f}" if ds else "–"
        pmean = f"{sum(pds) / len(pds):.2f}" if pds else "–"
        rows.append(f"| {label} | {e} | {m} | {fa} | {mean} | {worst} | {pm} | {pfa} | {pmean} |")
    return rows


# Per-mention rules: (description, facts, expected kinds).
MENTION_CASES: list[tuple[str, MentionFacts, set[str]]] = [
    (
        "negative, 1.2M followers",
        MentionFacts("negative", followers=1_200_000),
        {"high_reach_negative"},
    ),
    ("negative, 99,999 followers", MentionFacts("negative", followers=99_999), set()),
    ("positive, 5M followers", MentionFacts("positive", followers=5_000_000), set()),
    (
        "negative, verified media, 3k followers",
        MentionFacts("negative", followers=3_000, verified=True, verified_type="media"),
        {"high_reach_negative"},
    ),
    (
        "negative, verified personal, 3k followers",
        MentionFacts("negative", followers=3_000, verified=True, verified_type="personal"),
        set(),
    ),
    (
        "negative, 2,000 interactions",
        MentionFacts("negative", engagement=2_000),
        {"high_reach_negative"},
    ),
    (
        "neutral, one severe term (3)",
        MentionFacts("neutral", sensitive_weight=3.0),
        {"sensitive_term"},
    ),
    ("neutral, two watch words (2)", MentionFacts("neutral", sensitive_weight=2.0), set()),
    (
        "negative KOL with a severe term",
        MentionFacts("negative", verified=True, verified_type="kol", sensitive_weight=4.0),
        {"high_reach_negative", "sensitive_term"},
    ),
]


def mention_table() -> list[str]:
    rows = ["| case | expected | got | ok |", "| --- | --- | --- | --- |"]
    for label, facts, expected in MENTION_CASES:
        got = {s.kind for s in check_mention(facts)}
        ok = "yes" if got == expected else "NO"
        rows.append(
            f"| {label} | {', '.join(sorted(expected)) or '–'} "
            f"| {', '.join(sorted(got)) or '–'} | {ok} |"
        )
    return rows


def report(all_series: list[SyntheticSeries]) -> str:
    full = evaluate(DEFAULT_CONFIG, all_series, partial=False)
    live = evaluate(DEFAULT_CONFIG, all_series, partial=True)
    days = sum(len(s.volume) for s in all_series) / 1440
    out = [
        f"### Summary (default thresholds, {len(all_series)} series, {days:.0f} topic-days)",
        "",
        "| detector | events | missed | false alarms | mean delay (min) "
        "| with partial: false alarms | mean delay (min) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in SERIES_KINDS:
        e, m, fa, ds = totals({n: {kind: c[kind]} for n, c in full.items()})
        _, _, pfa, pds = totals({n: {kind: c[kind]} for n, c in live.items()})
        mean = f"{sum(ds) / len(ds):.2f}" if ds else "–"
        pmean = f"{sum(pds) / len(pds):.2f}" if pds else "–"
        out.append(f"| {kind} | {e} | {m} | {fa} | {mean} | {pfa} | {pmean} |")
    out += [
        "",
        "### Per detector and series (default thresholds)",
        "",
        "Closed minutes only, then with partial-minute evaluation at 15/30/45 s. "
        "Delay is wall-clock minutes from the event's start to the first alert.",
        "",
    ]
    for kind in SERIES_KINDS:
        out += [*detector_table(full, live, kind), ""]
    out += [
        "### Alternative configurations (all series, all three detectors)",
        "",
        *variant_table(all_series),
        "",
        "### Per-mention rules (labelled cases, default thresholds)",
        "",
        *mention_table(),
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Detector quality on the synthetic series")
    parser.add_argument("--out", type=Path, help="write the Markdown report to this file")
    args = parser.parse_args(argv)
    all_series = load_all(DATA)
    text = report(all_series)
    if args.out:
        header = HEADER.format(series=len(all_series))
        args.out.write_text(header + text, encoding="utf-8")
    print(text)
    return 0


HEADER = """# Benchmarks: detection quality

Produced by:

    .venv/bin/python bench/bench_detectors.py --out docs/benchmarks-detection.md

on the {series} committed synthetic series in `bench/data/detector_series/` (generated by
`python -m monitoring.detection.series --out bench/data/detector_series`; what each series
holds is in its `description` and in docs/detection.md). The numbers are deterministic: the
series and the arrival seconds of the partial-minute replay are seeded.

"""

if __name__ == "__main__":
    raise SystemExit(main())
