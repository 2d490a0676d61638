"""The minute-bucket detectors on the committed synthetic series, and their mechanics:
cooldown, escalation, gaps, warm-up, state round trip, partial minutes."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.detection import (
    DEFAULT_CONFIG,
    Bucket,
    DetectionConfig,
    DetectorState,
    SignalKind,
    advance_to,
    evaluate_bucket,
    evaluate_partial,
    fill_gaps,
    replay,
)
from monitoring.detection.series import SyntheticSeries, load_all

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=SH)
DATA = Path(__file__).resolve().parents[2] / "bench" / "data" / "detector_series"
SERIES = {s.name: s for s in load_all(DATA)}


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def steady(n: int, volume: int = 3, negative: int = 0, start: int = 0) -> list[Bucket]:
    # Alternating counts so the learned variance is not zero.
    return [
        Bucket(minute(start + i), volume + (i % 3) - 1, negative, reach=volume * 100)
        for i in range(n)
    ]


def alerts(series: SyntheticSeries, config: DetectionConfig = DEFAULT_CONFIG):
    """(minute index, signal) for every signal of a closed-minute replay."""
    state = DetectorState()
    out = []
    for i, bucket in enumerate(series.buckets()):
        state, found = evaluate_bucket(state, bucket, config)
        out += [(i, s) for s in found]
    return out


def of_kind(found, kind):
    return [(i, s) for i, s in found if s.kind == kind]


# --- the synthetic series ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["burst_quiet", "burst_sparse", "burst_negative", "double_burst", "burst_busy_day"]
)
def test_volume_spike_fires_early_in_every_burst(name):
    series = SERIES[name]
    found = of_kind(alerts(series), SignalKind.VOLUME_SPIKE)
    for event in (e for e in series.events if e.kind == SignalKind.VOLUME_SPIKE):
        first = min(i for i, _ in found if event.start <= i <= event.end)
        # Sharp bursts: within the burst's first two minutes. The one inside a busy day is
        # a smaller jump against a noisier baseline: the third minute (the benchmark's 3.0).
        allowed = 2 if name == "burst_busy_day" else 1
        assert first - event.start <= allowed, (name, first - event.start)


@pytest.mark.parametrize(
    "name",
    ["steady_quiet", "sparse", "daily_cycle", "slow_growth", "negative_steady", "negative_daily"],
)
def test_no_volume_alert_on_noise_cycles_or_growth(name):
    assert of_kind(alerts(SERIES[name]), SignalKind.VOLUME_SPIKE) == []


@pytest.mark.parametrize("name", ["steady_busy", "daily_cycle_busy"])
def test_busy_series_alert_once_at_cold_start_and_never_after(name):
    # Documented: a never-seen topic already above cold_start_volume alerts at once.
    found = of_kind(alerts(SERIES[name]), SignalKind.VOLUME_SPIKE)
    assert [i for i, _ in found] == [0]
    assert "no baseline yet" in found[0][1].reason


def test_no_volume_alert_after_warming_up_from_history():
    # The same busy series, with its first day replayed as history: no alert at all.
    buckets = SERIES["daily_cycle_busy"].buckets()
    state, _ = replay(buckets[:1440])
    _, found = replay(buckets[1440:], state=state)
    assert of_kind([(0, s) for s in found], SignalKind.VOLUME_SPIKE) == []


def test_negative_surge_detected_with_bounded_false_alarms():
    for name in ("negative_surge", "negative_surge_quiet", "burst_negative"):
        series = SERIES[name]
        event = next(e for e in series.events if e.kind == SignalKind.NEGATIVE_SURGE)
        found = of_kind(alerts(series), SignalKind.NEGATIVE_SURGE)
        hits = [i for i, _ in found if event.start <= i <= event.end]
        assert hits and hits[0] - event.start <= 10, name
    # Without an event: at most one alert per series-day (docs/benchmarks-detection.md).
    for name in ("negative_steady", "negative_daily", "steady_quiet", "daily_cycle"):
        series = SERIES[name]
        days = len(series.volume) / 1440
        assert len(of_kind(alerts(series), SignalKind.NEGATIVE_SURGE)) <= days, name


def test_coordinated_campaign_detected_and_busy_topics_quiet():
    series = SERIES["coordinated"]
    found = of_kind(alerts(series), SignalKind.COORDINATED_POSTING)
    assert len(found) >= 1
    assert 700 <= found[0][0] <= 710
    assert found[0][1].metrics["accounts"] >= 20
    # Natural duplicate clusters of a 200/min topic reach 20 accounts but are not alerted.
    busy = SERIES["daily_cycle_busy"]
    assert max(busy.max_cluster_accounts) >= 20
    assert of_kind(alerts(busy), SignalKind.COORDINATED_POSTING) == []


def test_committed_series_match_the_generator():
    from monitoring.detection import series as gen

    for s in gen.generate_all():
        assert (DATA / f"{s.name}.json").read_text(encoding="utf-8") == gen.dumps(s), s.name


# --- mechanics ---------------------------------------------------------------------------


def warmed(n: int = 60, volume: int = 3) -> DetectorState:
    state, found = replay(steady(n, volume))
    assert found == []
    return state


def test_spike_reason_and_metrics():
    state = warmed()
    _, found = evaluate_bucket(state, Bucket(minute(60), 48, 0, reach=48_000))
    (signal,) = found
    assert signal.kind == SignalKind.VOLUME_SPIKE
    assert signal.reason.startswith("volume 48/min vs baseline 3")
    assert "z=" in signal.reason
    assert signal.score > 1
    assert signal.metrics["z"] > DEFAULT_CONFIG.volume.z_threshold
    assert signal.metrics["reach"] == 48_000
    assert signal.at == minute(60)
    json.dumps(signal.to_dict())


def test_min_volume_guards_a_quiet_topic():
    # 9/min is a huge z-score against 0.3/min, but below min_volume (10).
    state, _ = replay([Bucket(minute(i), 1 if i % 3 == 0 else 0) for i in range(60)])
    _, found = evaluate_bucket(state, Bucket(minute(60), 9))
    assert found == []
    _, found = evaluate_bucket(state, Bucket(minute(60), 12))
    assert [s.kind for s in found] == [SignalKind.VOLUME_SPIKE]


def test_cooldown_one_alert_per_burst_then_a_new_episode():
    state = warmed()
    kinds = []
    fingerprints = set()
    t = 60
    for _ in range(20):  # a 20-minute burst
        state, found = evaluate_bucket(state, Bucket(minute(t), 60), DEFAULT_CONFIG)
        kinds += [s.kind for s in found]
        fingerprints |= {s.fingerprint for s in found}
        t += 1
    assert kinds == [SignalKind.VOLUME_SPIKE]
    # Quiet for longer than the cooldown, then a second burst: a new episode, a new print.
    for b in steady(40, start=t):
        state, found = evaluate_bucket(state, b)
        assert found == []
    t += 40
    state, found = evaluate_bucket(state, Bucket(minute(t), 60))
    assert [s.kind for s in found] == [SignalKind.VOLUME_SPIKE]
    assert found[0].fingerprint not in fingerprints


def test_escalation_alerts_again_with_the_same_fingerprint():
    state = warmed()
    state, first = evaluate_bucket(state, Bucket(minute(60), 30))
    state, none = evaluate_bucket(state, Bucket(minute(61), 35))
    state, again = evaluate_bucket(state, Bucket(minute(62), 200))
    assert len(first) == 1 and none == [] and len(again) == 1
    assert again[0].metrics["escalation"] is True
    assert again[0].fingerprint == first[0].fingerprint
    assert again[0].metrics["rate"] >= 2 * first[0].metrics["rate"]


def test_fingerprint_is_kind_and_episode_start_in_utc():
    state = warmed()
    _, (signal,) = evaluate_bucket(state, Bucket(minute(60), 60))
    # 10:00 in Shanghai is 02:00 UTC.
    assert signal.fingerprint == "volume_spike:20261124T0200Z"


def test_late_bucket_for_a_closed_minute_is_ignored():
    state = warmed()
    again, found = evaluate_bucket(state, Bucket(minute(10), 500))
    assert again is state and found == []


def test_gaps_are_zeros_and_advance_matches_explicit_zero_buckets():
    base = warmed(60, volume=6)
    # The gap filled by evaluate_bucket itself ...
    implicit, _ = evaluate_bucket(base, Bucket(minute(300), 4))
    # ... by advance_to ...
    advanced, _ = evaluate_bucket(advance_to(base, minute(299)), Bucket(minute(300), 4))
    # ... and by feeding every empty minute.
    explicit = base
    for b in fill_gaps([Bucket(minute(300), 4)], start=minute(60)):
        explicit, _ = evaluate_bucket(explicit, b)
    for other in (implicit, advanced):
        assert other.seen == explicit.seen
        assert other.recent == explicit.recent
        for field in ("vol_mean", "vol_var", "neg_mean", "clu_mean"):
            assert math.isclose(getattr(other, field), getattr(explicit, field), rel_tol=1e-9)
    # A day of silence brings the baseline close to zero, so a modest burst alerts.
    quiet = advance_to(base, minute(60 + 1440))
    assert quiet.vol_mean < 0.01
    _, found = evaluate_bucket(quiet, Bucket(minute(61 + 1440), 15))
    assert [s.kind for s in found] == [SignalKind.VOLUME_SPIKE]


def test_advance_to_is_constant_time_in_the_gap():
    state = warmed()
    far = advance_to(state, minute(59 + 10_000_000))
    assert far.seen == state.seen + 10_000_000
    assert far.vol_mean == pytest.approx(0.0, abs=1e-12)


def test_fill_gaps_yields_every_minute_in_order():
    got = list(fill_gaps([Bucket(minute(2), 5), Bucket(minute(2), 1), Bucket(minute(5), 3)]))
    assert [(b.minute, b.volume) for b in got] == [
        (minute(2), 6),
        (minute(3), 0),
        (minute(4), 0),
        (minute(5), 3),
    ]
    padded = list(fill_gaps([Bucket(minute(2), 5)], start=minute(0), end=minute(4)))
    assert [b.volume for b in padded] == [0, 0, 5, 0, 0]


def test_warm_up_uses_only_the_absolute_floor():
    state = DetectorState()
    for b in steady(5):
        state, found = evaluate_bucket(state, b)
        assert found == []
    # 40/min on minute 6 would be a huge z, but the baseline is not trusted yet ...
    _, found = evaluate_bucket(state, Bucket(minute(5), 40))
    assert found == []
    # ... while the cold-start floor still fires, also on a topic never seen.
    _, found = evaluate_bucket(state, Bucket(minute(5), 80))
    assert found and "no baseline yet" in found[0].reason
    _, found = evaluate_bucket(DetectorState(), Bucket(minute(0), 80))
    assert [s.kind for s in found] == [SignalKind.VOLUME_SPIKE]


def test_negative_surge_reason_and_minimum_count():
    state, _ = replay(steady(60, volume=20, negative=4))
    _, found = evaluate_bucket(state, Bucket(minute(60), 20, 16))
    assert found == []  # the 3-minute share is (4+4+16)/60 = 40%: not yet 20 points
    state2, _ = evaluate_bucket(state, Bucket(minute(60), 20, 16))
    _, found = evaluate_bucket(state2, Bucket(minute(61), 20, 16))
    (signal,) = found
    assert signal.kind == SignalKind.NEGATIVE_SURGE
    assert signal.reason.startswith("negative share ")
    assert "vs baseline 20%" in signal.reason
    # A topic with few posts: 9 of 9 negative is below min_negative (10).
    quiet, _ = replay(steady(60, volume=1, negative=0))
    _, found = evaluate_bucket(quiet, Bucket(minute(60), 9, 9))
    assert not [s for s in found if s.kind == SignalKind.NEGATIVE_SURGE]


def test_disabled_detectors_stay_silent():
    config = DetectionConfig.from_dict({"volume": {"enabled": False}})
    _, found = evaluate_bucket(warmed(), Bucket(minute(60), 500), config)
    assert found == []


# --- partial minutes -------------------------------------------------------------------


def test_partial_minute_alerts_within_seconds_without_touching_the_baseline():
    state = warmed()
    new, found = evaluate_partial(state, Bucket(minute(60), 20), 15)
    (signal,) = found
    assert signal.kind == SignalKind.VOLUME_SPIKE
    assert signal.metrics["partial"] is True
    assert "in the first 15 s" in signal.reason
    # Only the alert bookkeeping changed.
    assert dataclasses.replace(new, episodes=state.episodes) == state
    # The closed minute does not alert again, and a later alert groups with it.
    closed, again = evaluate_bucket(new, Bucket(minute(60), 70))
    assert again == []
    assert closed.seen == state.seen + 1


def test_partial_extrapolation_is_conservative():
    state = warmed()
    # 3 posts in 5 s would be 36/min naively: too early (min_elapsed_seconds) ...
    assert evaluate_partial(state, Bucket(minute(60), 3), 5)[1] == []
    # ... and 4 posts in 12 s projects to less than min_volume with the lower bound.
    assert evaluate_partial(state, Bucket(minute(60), 4), 12)[1] == []
    # The same posts spread over the whole minute never alert either.
    assert evaluate_partial(state, Bucket(minute(60), 4), 60)[1] == []


def test_partial_for_a_closed_minute_is_ignored():
    state = warmed()
    assert evaluate_partial(state, Bucket(minute(59), 100), 30) == (state, [])


# --- state ------------------------------------------------------------------------------


def test_state_round_trip_through_json():
    state = warmed()
    state, found = evaluate_bucket(state, Bucket(minute(60), 80, 60, max_cluster_accounts=40))
    assert found
    text = json.dumps(state.to_dict())
    assert len(text) < 1500  # small: one JSON field per topic
    again = DetectorState.from_dict(json.loads(text))
    assert again == state
    # Both continue identically.
    nxt = Bucket(minute(61), 7, 2)
    assert evaluate_bucket(again, nxt) == evaluate_bucket(state, nxt)


def test_state_from_empty_or_bad_dict():
    assert DetectorState.from_dict(None) == DetectorState()
    assert DetectorState.from_dict({}) == DetectorState()
    with pytest.raises(ValueError, match="version"):
        DetectorState.from_dict({"v": 99})
    with pytest.raises(ValueError, match="malformed"):
        DetectorState.from_dict({"v": 1, "seen": 3})
    bad = warmed().to_dict() | {"vol_mean": float("nan")}
    with pytest.raises(ValueError, match="malformed"):
        DetectorState.from_dict(bad)


def test_naive_minutes_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_bucket(DetectorState(), Bucket(datetime(2026, 11, 24, 9, 0), 1))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=5),  # minutes since the previous bucket
            st.integers(min_value=0, max_value=500),
            st.integers(min_value=0, max_value=500),
            st.integers(min_value=0, max_value=80),
        ),
        max_size=80,
    )
)
def test_any_bucket_sequence_keeps_a_sane_json_state(steps):
    state = DetectorState()
    t = 0
    for gap, volume, negative, cluster in steps:
        t += gap
        state, found = evaluate_bucket(
            state, Bucket(minute(t), volume, negative, 0, cluster), DEFAULT_CONFIG
        )
        for s in found:
            assert s.score >= 1.0
            assert s.fingerprint.startswith(f"{s.kind}:")
            json.dumps(s.to_dict())
        numbers = [state.vol_mean, state.vol_var, state.neg_mean, state.win_var, state.clu_var]
        assert all(math.isfinite(x) and x >= 0 for x in numbers)
        assert 0 <= state.share_mean <= 1.0 + 1e-9
        assert DetectorState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
