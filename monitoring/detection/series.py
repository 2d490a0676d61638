"""Synthetic per-minute series with ground-truth events, for the benchmark and the tests.

Seeded and generated with ``random.Random`` only (its ``random()``/``gauss()`` streams are
stable across Python versions, unlike numpy's distribution samplers), then committed as
small JSON files under ``bench/data/detector_series/`` so a benchmark number always refers
to the same data. Regenerate (and check the committed files match) with::

    .venv/bin/python -m monitoring.detection.series --out bench/data/detector_series
    .venv/bin/python -m monitoring.detection.series --check bench/data/detector_series

The noise is what makes real minute counts hard: Poisson counts around a rate that wanders
(a slow AR(1) factor on the log scale, sd ~0.15: mini-cascades lasting minutes) and is
overdispersed (a gamma factor per minute). Reach is not stored: ``buckets()`` derives it as
``volume * REACH_PER_POST``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitoring.detection.detectors import Bucket
from monitoring.detection.signals import SignalKind

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI)
REACH_PER_POST = 800
DAY = 1440

# Relative activity by hour of day (Asia/Shanghai) for Chinese social media: quiet before
# dawn, a lunch peak, the highest peak in the evening. Linear between anchors.
_DAILY_ANCHORS = [
    (0.0, 0.45),
    (2.0, 0.15),
    (5.0, 0.08),
    (7.0, 0.25),
    (9.0, 0.7),
    (12.5, 0.95),
    (14.5, 0.8),
    (17.0, 0.8),
    (19.0, 0.9),
    (21.5, 1.0),
    (23.0, 0.8),
    (24.0, 0.45),
]


@dataclass(frozen=True, slots=True)
class Event:
    """Ground truth: an event of ``kind`` starts at minute index ``start``; alerts of that
    kind from ``start`` to ``end`` (inclusive) belong to it, any other alert of the kind in
    the series is a false alarm."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SyntheticSeries:
    name: str
    description: str
    seed: int
    start: datetime
    volume: list[int]
    negative: list[int]
    max_cluster_accounts: list[int]
    events: list[Event] = field(default_factory=list)

    def minute(self, index: int) -> datetime:
        return self.start + timedelta(minutes=index)

    def buckets(self) -> list[Bucket]:
        return [
            Bucket(
                minute=self.minute(i),
                volume=v,
                negative=n,
                reach=v * REACH_PER_POST,
                max_cluster_accounts=c,
            )
            for i, (v, n, c) in enumerate(
                zip(self.volume, self.negative, self.max_cluster_accounts, strict=True)
            )
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "minutes": len(self.volume),
            "events": [{"kind": e.kind, "start": e.start, "end": e.end} for e in self.events],
            "volume": self.volume,
            "negative": self.negative,
            "max_cluster_accounts": self.max_cluster_accounts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyntheticSeries:
        return cls(
            name=data["name"],
            description=data["description"],
            seed=int(data["seed"]),
            start=datetime.fromisoformat(data["start"]),
            volume=[int(x) for x in data["volume"]],
            negative=[int(x) for x in data["negative"]],
            max_cluster_accounts=[int(x) for x in data["max_cluster_accounts"]],
            events=[Event(e["kind"], int(e["start"]), int(e["end"])) for e in data["events"]],
        )


# --------------------------------------------------------------------------------------
# Sampling


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam < 30:
        # Knuth: multiply uniforms until below e^-lam.
        limit, k, prod = math.exp(-lam), 0, rng.random()
        while prod > limit:
            k += 1
            prod *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def _binomial(rng: random.Random, n: int, p: float) -> int:
    p = min(1.0, max(0.0, p))
    if n > 200:
        return min(n, max(0, round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))))
    return sum(1 for _ in range(n) if rng.random() < p)


def daily_shape(index: int, start: datetime = START) -> float:
    local = (start + timedelta(minutes=index)).astimezone(SHANGHAI)
    hour = local.hour + local.minute / 60
    for (h0, v0), (h1, v1) in itertools.pairwise(_DAILY_ANCHORS):
        if h0 <= hour <= h1:
            return v0 + (v1 - v0) * (hour - h0) / (h1 - h0)
    return _DAILY_ANCHORS[-1][1]


class _Noise:
    """Rate multiplier: a slowly wandering AR(1) on the log scale times a gamma factor."""

    def __init__(self, rng: random.Random, *, ar_sd: float = 0.15, shape: float = 20.0):
        self.rng = rng
        self.phi = 0.95
        self.step_sd = ar_sd * math.sqrt(1 - self.phi**2)
        self.level = 0.0
        self.shape = shape

    def __call__(self) -> float:
        self.level = self.phi * self.level + self.rng.gauss(0.0, self.step_sd)
        gamma = self.rng.gammavariate(self.shape, 1.0 / self.shape)
        return math.exp(self.level) * gamma


def _burst(index: int, start: int, amplitude: float, *, ramp: int = 2, plateau: int = 30) -> float:
    """Extra posts per minute of a sharp burst: a ramp of ``ramp`` minutes, a plateau, then
    a decay with a 20-minute half-life (reposts of reposts die down)."""
    t = index - start
    if t < 0:
        return 0.0
    if t < plateau:
        return amplitude * min(1.0, (t + 1) / ramp)
    return amplitude * 0.5 ** ((t - plateau) / 20)


def _make(
    name: str,
    description: str,
    seed: int,
    minutes: int,
    rate: Callable[[int], float],
    share: Callable[[int], float] = lambda _i: 0.2,
    *,
    events: Sequence[Event] = (),
    cluster: Callable[[int, float], float] | None = None,
) -> SyntheticSeries:
    rng = random.Random(seed)
    noise = _Noise(rng)
    share_noise = _Noise(rng, ar_sd=0.2, shape=50.0)
    volume, negative, clusters = [], [], []
    for i in range(minutes):
        lam = rate(i)
        v = _poisson(rng, lam * noise())
        volume.append(v)
        negative.append(_binomial(rng, v, share(i) * share_noise()))
        # Natural near-duplicates (a news headline shared as is) grow with the volume.
        natural = 1 + _poisson(rng, 1.5 + 0.05 * lam)
        clusters.append(max(natural, round(cluster(i, lam)) if cluster else 0))
    return SyntheticSeries(
        name=name,
        description=description,
        seed=seed,
        start=START,
        volume=volume,
        negative=negative,
        max_cluster_accounts=clusters,
        events=list(events),
    )


def generate_all() -> list[SyntheticSeries]:
    vs, ns, cp = SignalKind.VOLUME_SPIKE, SignalKind.NEGATIVE_SURGE, SignalKind.COORDINATED_POSTING
    burst_at = 900  # 15:00 on the first day
    day2_burst = DAY + 14 * 60  # 14:00 on the second day, near the lunch/afternoon plateau

    def campaign(i: int, _lam: float) -> float:
        # 60 accounts post one text over 20 minutes; the 30-minute window then forgets them.
        t = i - 700
        if t < 0 or t >= 50:
            return 0.0
        return min(60.0, 3.0 * (t + 1)) if t < 30 else 60.0 * (1 - (t - 29) / 21)

    return [
        _make("steady_quiet", "3 posts/min, no event", 101, DAY, lambda _i: 3.0),
        _make("steady_busy", "60 posts/min, no event", 102, DAY, lambda _i: 60.0),
        _make("sparse", "0.3 posts/min (mostly empty minutes), no event", 103, DAY, lambda _i: 0.3),
        _make(
            "daily_cycle",
            "two days of a daily cycle, 2.4 to 30 posts/min, no event",
            104,
            2 * DAY,
            lambda i: 30.0 * daily_shape(i),
        ),
        _make(
            "daily_cycle_busy",
            "two days of a daily cycle, 16 to 200 posts/min, no event",
            105,
            2 * DAY,
            lambda i: 200.0 * daily_shape(i),
        ),
        _make(
            "slow_growth",
            "grows steadily from 3 to 40 posts/min over a day, no event",
            106,
            DAY,
            lambda i: 3.0 * math.exp(math.log(40 / 3) * i / DAY),
        ),
        _make(
            "burst_quiet",
            "3 posts/min, a sharp burst of +40/min at 15:00",
            107,
            DAY,
            lambda i: 3.0 + _burst(i, burst_at, 40.0),
            events=[Event(vs, burst_at, burst_at + 120)],
        ),
        _make(
            "burst_sparse",
            "0.3 posts/min, a burst of +15/min at 15:00",
            108,
            DAY,
            lambda i: 0.3 + _burst(i, burst_at, 15.0),
            events=[Event(vs, burst_at, burst_at + 120)],
        ),
        _make(
            "burst_busy_day",
            "daily cycle 2.4-30/min, a burst of +45/min at 14:00 on day two",
            109,
            2 * DAY,
            lambda i: 30.0 * daily_shape(i) + _burst(i, day2_burst, 45.0),
            events=[Event(vs, day2_burst, day2_burst + 120)],
        ),
        _make(
            "small_burst",
            "10 posts/min, a modest burst of +15/min at 15:00 (the edge of detection)",
            110,
            DAY,
            lambda i: 10.0 + _burst(i, burst_at, 15.0, ramp=5),
            events=[Event(vs, burst_at, burst_at + 120)],
        ),
        _make(
            "double_burst",
            "3 posts/min, bursts of +30/min at 10:00 and +40/min at 14:00",
            111,
            DAY,
            lambda i: 3.0 + _burst(i, 600, 30.0) + _burst(i, 840, 40.0),
            events=[Event(vs, 600, 720), Event(vs, 840, 960)],
        ),
        _make(
            "negative_steady",
            "20 posts/min, negative share around 20%, no event",
            112,
            DAY,
            lambda _i: 20.0,
        ),
        _make(
            "negative_daily",
            "daily cycle 2.4-30/min, negative share 30% at night and 15% by day, no event",
            113,
            2 * DAY,
            lambda i: 30.0 * daily_shape(i),
            lambda i: 0.3 - 0.15 * daily_shape(i),
        ),
        _make(
            "negative_surge",
            "20 posts/min throughout, negative share 20% rising to 60% at 15:00 and staying",
            114,
            DAY,
            lambda _i: 20.0,
            lambda i: 0.2 if i < burst_at else 0.6,
            events=[Event(ns, burst_at, DAY)],
        ),
        _make(
            "negative_surge_quiet",
            "3 posts/min, negative share 15% rising to 70% at 15:00 and staying",
            115,
            DAY,
            lambda _i: 3.0,
            lambda i: 0.15 if i < burst_at else 0.7,
            events=[Event(ns, burst_at, DAY)],
        ),
        _make(
            "burst_negative",
            "3 posts/min at 20% negative, a burst of +40/min that is 75% negative at 15:00",
            116,
            DAY,
            lambda i: 3.0 + _burst(i, burst_at, 40.0),
            lambda i: (
                (0.2 * 3.0 + 0.75 * _burst(i, burst_at, 40.0)) / (3.0 + _burst(i, burst_at, 40.0))
            ),
            events=[Event(vs, burst_at, burst_at + 120), Event(ns, burst_at, burst_at + 120)],
        ),
        _make(
            "coordinated",
            "10 posts/min, 60 accounts post one text within 20 minutes from 11:40",
            117,
            DAY,
            lambda i: 10.0 + (3.0 if 700 <= i < 720 else 0.0),
            cluster=campaign,
            events=[Event(cp, 700, 760)],
        ),
    ]


# --------------------------------------------------------------------------------------
# Files


def dumps(series: SyntheticSeries) -> str:
    # One line per array keeps diffs readable and files small.
    data = series.to_dict()
    head = {k: v for k, v in data.items() if not isinstance(v, list) or k == "events"}
    lines = ["{"]
    for key, value in head.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    arrays = ["volume", "negative", "max_cluster_accounts"]
    for n, key in enumerate(arrays):
        comma = "," if n < len(arrays) - 1 else ""
        lines.append(f"  {json.dumps(key)}: {json.dumps(data[key], separators=(',', ':'))}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for series in generate_all():
        path = directory / f"{series.name}.json"
        path.write_text(dumps(series), encoding="utf-8")
        paths.append(path)
    return paths


def load_all(directory: Path) -> list[SyntheticSeries]:
    return [
        SyntheticSeries.from_dict(json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(directory.glob("*.json"))
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="write the series as JSON files here")
    group.add_argument("--check", type=Path, help="fail if the files here differ")
    args = parser.parse_args(argv)
    if args.out:
        for path in write_all(args.out):
            print(path)
        return 0
    stale = [
        s.name
        for s in generate_all()
        if not (args.check / f"{s.name}.json").exists()
        or (args.check / f"{s.name}.json").read_text(encoding="utf-8") != dumps(s)
    ]
    if stale:
        print("differ from the generator: " + ", ".join(stale), file=sys.stderr)
        return 1
    print("all series match the generator")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
