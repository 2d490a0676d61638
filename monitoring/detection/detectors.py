"""Burst detectors over per-topic minute buckets: volume spike and negative surge (EWMA
baselines, z-scores, cooldown and escalation), coordinated posting on a minute's largest
cluster, and the per-topic state they learn.

Pure functions over small immutable values; nothing here touches the database. The caller
keeps one ``DetectorState`` per topic (``to_dict()`` is a small JSON object, O(1) in the
topic's history), and on every closed minute calls ``evaluate_bucket``; while a minute is
still filling it may call ``evaluate_partial`` to alert within seconds. The per-mention
rules (``check_mention``) and the per-cluster rule (``check_cluster``, which the bucket
detector also applies to a minute's largest cluster) need no state: ``mention_rules``.

Every function returns new values and never mutates its arguments, so a caller that loses a
race (two workers evaluating the same topic) can simply drop its result.

Fingerprints are topic-independent: the caller prefixes the topic id
(``f"{topic.pk}:{signal.fingerprint}"``) and upserts its Alert on that, so a repeated or
escalated signal of one episode updates one alert instead of adding another.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from monitoring.detection.config import DEFAULT_CONFIG, DetectionConfig
from monitoring.detection.mention_rules import check_cluster
from monitoring.detection.signals import Signal, SignalKind, floor_minute, window_key

STATE_VERSION = 1
MINUTE = timedelta(minutes=1)
# Variance floor for a topic that has been silent: without it a single post after hours of
# zeros would have an infinite z-score. min_volume still decides whether it is worth an alert.
MIN_VARIANCE = 1.0
# Pseudo-count (posts per minute) of the prior share blended into the learned one, so a
# topic with a fraction of a post per minute keeps a sane baseline share.
PRIOR_WEIGHT = 1.0
# A minute's squared Pearson residual is capped at this before it is learned into the
# share dispersion, so a surge (already capped at baseline + margin) cannot double it.
MAX_PEARSON = 9.0
# The dispersion learns at this fraction of the baseline's rate: a variance needs more
# minutes than a mean to settle, and a slow learner is barely moved by the first minutes of
# a surge that has not been detected yet (and so is not yet excluded from learning).
DISPERSION_RATE = 0.25


@dataclass(frozen=True, slots=True)
class Bucket:
    """One topic's rollup for one minute.

    ``max_cluster_accounts`` is the number of distinct accounts in the largest
    near-duplicate cluster over the coordinated-posting window (``coordinated.window_minutes``)
    ending with this minute, not within this minute alone: a campaign spreads its posts.
    """

    minute: datetime
    volume: int
    negative: int = 0
    reach: int = 0
    max_cluster_accounts: int = 0


@dataclass(frozen=True, slots=True)
class Episode:
    """One ongoing alert condition of a kind on a topic.

    ``last_hit`` is the last minute the condition held (alerted or not); the episode ends
    when it has been clear for ``cooldown_minutes``. ``magnitude`` is the size of what was
    last alerted (posts per minute, negative posts per minute, accounts), which an
    escalation must multiply by ``escalation_factor``: sizes, not scores, because a
    window's z-score grows while a burst merely goes on.
    """

    start: datetime
    last_hit: datetime
    last_alert: datetime
    magnitude: float


@dataclass(frozen=True, slots=True)
class DetectorState:
    last_minute: datetime | None = None
    seen: int = 0
    # EWMA of the per-minute volume and its variance.
    vol_mean: float = 0.0
    vol_var: float = 0.0
    # EWMA of the per-minute negative count: the baseline share is neg_mean / vol_mean, a
    # volume-weighted share that a near-empty minute cannot swing.
    neg_mean: float = 0.0
    # EWMA of the squared deviation of the recent-window mean volume from vol_mean: minute
    # counts wander together (a mini-cascade lasts minutes), so a window mean varies more
    # than var / window, and the window test needs its own yardstick.
    win_var: float = 0.0
    # The variance of the negative share over the short and the long window, kept as
    # dispersion factors over the binomial variance (EWMA of squared Pearson residuals,
    # 1.0 = purely binomial): the tone of a conversation wanders for minutes at a time, so a
    # window's share varies more than chance says, and a factor stays meaningful when the
    # volume, and with it the binomial variance, changes through the day.
    disp_short: float = 1.0
    disp_long: float = 1.0
    # EWMA of the largest near-duplicate cluster's distinct accounts, and its variance: a
    # busy topic has natural duplicate clusters (a headline shared as is) that a quiet one
    # has not, so the coordinated-posting check is relative too.
    clu_mean: float = 0.0
    clu_var: float = 0.0
    # The last few minutes as (volume, negative), oldest first: the recent window.
    recent: tuple[tuple[int, int], ...] = ()
    episodes: Mapping[str, Episode] = field(default_factory=dict)

    @property
    def share_mean(self) -> float:
        return self.neg_mean / self.vol_mean if self.vol_mean > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "last_minute": _iso(self.last_minute),
            "seen": self.seen,
            "vol_mean": self.vol_mean,
            "vol_var": self.vol_var,
            "neg_mean": self.neg_mean,
            "win_var": self.win_var,
            "disp_short": self.disp_short,
            "disp_long": self.disp_long,
            "clu_mean": self.clu_mean,
            "clu_var": self.clu_var,
            "recent": [[v, n] for v, n in self.recent],
            "episodes": {
                kind: {
                    "start": _iso(ep.start),
                    "last_hit": _iso(ep.last_hit),
                    "last_alert": _iso(ep.last_alert),
                    "magnitude": ep.magnitude,
                }
                for kind, ep in self.episodes.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> DetectorState:
        """The state stored by ``to_dict``; ``None`` or ``{}`` is a fresh state.

        Raises ValueError on a malformed or newer-version dict; the caller may log it and
        start from a fresh state (the topic then warms up again).
        """
        if not data:
            return cls()
        try:
            if data.get("v") != STATE_VERSION:
                raise ValueError(f"unsupported detector state version {data.get('v')!r}")
            episodes = {
                str(kind): Episode(
                    start=_parse_minute(ep["start"]),
                    last_hit=_parse_minute(ep["last_hit"]),
                    last_alert=_parse_minute(ep["last_alert"]),
                    magnitude=float(ep["magnitude"]),
                )
                for kind, ep in dict(data.get("episodes") or {}).items()
            }
            last = data.get("last_minute")
            state = cls(
                last_minute=_parse_minute(last) if last else None,
                seen=int(data["seen"]),
                vol_mean=float(data["vol_mean"]),
                vol_var=float(data["vol_var"]),
                neg_mean=float(data["neg_mean"]),
                win_var=float(data["win_var"]),
                disp_short=float(data["disp_short"]),
                disp_long=float(data["disp_long"]),
                clu_mean=float(data["clu_mean"]),
                clu_var=float(data["clu_var"]),
                recent=tuple((int(v), int(n)) for v, n in data.get("recent") or ()),
                episodes=episodes,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed detector state: {exc}") from exc
        values = (
            state.vol_mean,
            state.vol_var,
            state.neg_mean,
            state.win_var,
            state.clu_mean,
            state.clu_var,
        )
        if state.seen < 0 or not all(math.isfinite(x) and x >= 0 for x in values):
            raise ValueError("malformed detector state: negative or non-finite numbers")
        return state


# --------------------------------------------------------------------------------------
# Minute buckets


def evaluate_bucket(
    state: DetectorState, bucket: Bucket, config: DetectionConfig = DEFAULT_CONFIG
) -> tuple[DetectorState, list[Signal]]:
    """Judge a closed minute against the topic's baseline, then learn it.

    Minutes between the state's last minute and this one count as empty. A bucket for a
    minute already evaluated (a late re-delivery) changes nothing and raises nothing: the
    baseline is per closed minute, and the late posts still count in the caller's rollup.
    """
    minute = floor_minute(bucket.minute)
    if state.last_minute is not None and minute <= state.last_minute:
        return state, []
    state = _advance(state, minute - MINUTE, config)
    volume, negative = max(0, bucket.volume), max(0, min(bucket.negative, bucket.volume))

    found = [
        *_volume_candidates(state, float(volume), config, reach=bucket.reach),
        *_negative_candidates(state, volume, negative, config),
        *_cluster_candidates(state, bucket.max_cluster_accounts, config),
    ]
    episodes, signals = _gate(state.episodes, found, minute, config)
    # While a negative surge is open its minutes would teach the share's variance that
    # surges are normal; the mean still learns (clipped), so a lasting new tone is learned.
    surge = episodes.get(SignalKind.NEGATIVE_SURGE)
    learned = _learn(
        state,
        volume,
        negative,
        config,
        max(0, bucket.max_cluster_accounts),
        learn_share=surge is None or minute - surge.last_hit > _cooldown(config),
    )
    return replace(learned, last_minute=minute, episodes=episodes), signals


def evaluate_partial(
    state: DetectorState,
    partial_bucket: Bucket,
    elapsed_seconds: float,
    config: DetectionConfig = DEFAULT_CONFIG,
) -> tuple[DetectorState, list[Signal]]:
    """Judge the minute that is still filling, ``elapsed_seconds`` into it.

    The volume is extrapolated to a full minute conservatively (a lower confidence bound of
    the rate seen so far, see ``PartialConfig``); the negative share, when
    ``partial.include_negative`` is on, needs no extrapolation and is tested on the counts
    seen. The baseline is not touched: the returned state
    differs only in its alert episodes, so the closed minute, evaluated later, does not
    alert again for the same condition (and its fingerprint is the same).
    """
    minute = floor_minute(partial_bucket.minute)
    elapsed = min(60.0, max(0.0, float(elapsed_seconds)))
    if elapsed < config.partial.min_elapsed_seconds:
        return state, []
    if state.last_minute is not None and minute <= state.last_minute:
        return state, []
    scratch = _advance(state, minute - MINUTE, config)
    seen = max(0, partial_bucket.volume)
    negative = max(0, min(partial_bucket.negative, seen))
    lower = max(0.0, seen - config.partial.confidence_k * math.sqrt(seen))
    projected = seen + lower * (60.0 - elapsed) / elapsed

    found = [
        *_volume_candidates(
            scratch,
            projected,
            config,
            reach=partial_bucket.reach,
            partial=(seen, elapsed),
        ),
        *(
            _negative_candidates(scratch, seen, negative, config, partial=True)
            if config.partial.include_negative
            else []
        ),
        *_cluster_candidates(scratch, partial_bucket.max_cluster_accounts, config),
    ]
    episodes, signals = _gate(state.episodes, found, minute, config)
    return replace(state, episodes=episodes), signals


def advance_to(
    state: DetectorState, minute: datetime, config: DetectionConfig = DEFAULT_CONFIG
) -> DetectorState:
    """Count every minute after the state's last one, up to and including ``minute``, as
    empty. O(1) in the gap: the EWMA of k zeros has a closed form.

    For a periodic task that closes minutes of topics with no posts; only call it for time
    the sources were actually being collected, or an outage is learned as silence.
    """
    minute = floor_minute(minute)
    if state.last_minute is not None and minute <= state.last_minute:
        return state
    return _advance(state, minute, config)


def fill_gaps(
    buckets: Iterable[Bucket], *, start: datetime | None = None, end: datetime | None = None
) -> Iterator[Bucket]:
    """The buckets in minute order with an empty bucket for every missing minute.

    For replays and backfills (warming a new topic's state from history); the live path
    uses ``advance_to`` / ``evaluate_bucket``, which skip gaps without materialising them.
    Buckets must come in ascending minute order; duplicates of a minute are merged.
    """
    cursor = floor_minute(start) if start else None
    pending: Bucket | None = None
    for bucket in buckets:
        minute = floor_minute(bucket.minute)
        if pending is not None and minute == pending.minute:
            pending = Bucket(
                minute,
                pending.volume + bucket.volume,
                pending.negative + bucket.negative,
                pending.reach + bucket.reach,
                max(pending.max_cluster_accounts, bucket.max_cluster_accounts),
            )
            continue
        if pending is not None:
            yield pending
            cursor = pending.minute + MINUTE
        if cursor is not None:
            if minute < cursor:
                raise ValueError("buckets must be in ascending minute order")
            while cursor < minute:
                yield Bucket(cursor, 0)
                cursor += MINUTE
        pending = replace(bucket, minute=minute)
    if pending is not None:
        yield pending
        cursor = pending.minute + MINUTE
    if end is not None and cursor is not None:
        last = floor_minute(end)
        while cursor <= last:
            yield Bucket(cursor, 0)
            cursor += MINUTE


def replay(
    buckets: Iterable[Bucket],
    config: DetectionConfig = DEFAULT_CONFIG,
    state: DetectorState | None = None,
) -> tuple[DetectorState, list[Signal]]:
    """Feed a history of buckets through ``evaluate_bucket``: warms a new topic's state from
    its past (then drop the signals) or replays an incident."""
    state = state or DetectorState()
    signals: list[Signal] = []
    for bucket in buckets:
        state, found = evaluate_bucket(state, bucket, config)
        signals.extend(found)
    return state, signals


# --------------------------------------------------------------------------------------
# Internals


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A condition that holds this minute, before the cooldown decides whether to alert."""

    kind: str
    score: float
    metrics: dict[str, Any]
    reason: str
    magnitude: float


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parse_minute(value: Any) -> datetime:
    return floor_minute(datetime.fromisoformat(str(value)))


def _history(config: DetectionConfig) -> int:
    return max(config.volume.window_minutes, *_share_spans(config))


def _share_spans(config: DetectionConfig) -> tuple[int, int]:
    nc = config.negative
    return min(nc.short_window_minutes, nc.window_minutes), nc.window_minutes


def _learn(
    state: DetectorState,
    volume: int,
    negative: int,
    config: DetectionConfig,
    cluster: int = 0,
    *,
    learn_share: bool = True,
) -> DetectorState:
    """One EWMA step. Early on the step is a running mean (alpha = 1/(n+1)), so the baseline
    is the plain average of what has been seen until the EWMA's own memory is shorter."""
    alpha = max(config.baseline.alpha, 1.0 / (state.seen + 1))
    clip = config.baseline.clip_sigmas
    x, neg = float(volume), float(negative)
    base_share = _baseline_share(state, config)
    if state.seen >= config.baseline.warmup_buckets and volume > 0:
        cap = state.vol_mean + clip * math.sqrt(_variance(state))
        if x > cap:
            neg *= cap / x
            x = cap
        neg = min(neg, x * min(1.0, base_share + config.negative.margin))
    diff = x - state.vol_mean
    incr = alpha * diff
    mean = state.vol_mean + incr
    var = (1.0 - alpha) * (state.vol_var + diff * incr)
    neg_mean = state.neg_mean + alpha * (neg - state.neg_mean)
    recent = (*state.recent, (volume, negative))[-_history(config) :]

    win_var = state.win_var
    span = config.volume.window_minutes
    if span > 1 and len(recent) >= span:
        deviation = sum(v for v, _ in recent[-span:]) / span - state.vol_mean
        if state.seen >= config.baseline.warmup_buckets:
            limit = clip * math.sqrt(_window_variance(state, span))
            deviation = min(deviation, limit)
        win_var += alpha * (deviation * deviation - win_var)

    dispersions = [state.disp_short, state.disp_long]
    if learn_share:
        p = min(0.98, max(0.02, base_share))
        for n, span in enumerate(_share_spans(config)):
            if len(recent) < span:
                continue
            vol_w = sum(v for v, _ in recent[-span:])
            neg_w = sum(k for _, k in recent[-span:])
            if vol_w <= 0:
                continue
            # Each term has expectation 1 under a binomial share whatever the window's
            # volume, so quiet windows do not bias the factor, they only make it noisier.
            pearson = (neg_w - vol_w * base_share) ** 2 / (vol_w * p * (1.0 - p))
            dispersions[n] += alpha * DISPERSION_RATE * (min(pearson, MAX_PEARSON) - dispersions[n])
    c = float(cluster)
    if state.seen >= config.baseline.warmup_buckets:
        c = min(c, state.clu_mean + clip * math.sqrt(_cluster_variance(state)))
    c_diff = c - state.clu_mean
    clu_mean = state.clu_mean + alpha * c_diff
    clu_var = (1.0 - alpha) * (state.clu_var + c_diff * alpha * c_diff)
    return replace(
        state,
        seen=state.seen + 1,
        vol_mean=mean,
        vol_var=max(0.0, var),
        neg_mean=max(0.0, neg_mean),
        win_var=win_var,
        disp_short=dispersions[0],
        disp_long=dispersions[1],
        clu_mean=clu_mean,
        clu_var=max(0.0, clu_var),
        recent=recent,
    )


def _advance(state: DetectorState, through: datetime, config: DetectionConfig) -> DetectorState:
    """Learn empty minutes from after ``state.last_minute`` through ``through``."""
    if state.last_minute is None or through <= state.last_minute:
        # A never-seen topic has no gap to fill: its history starts with its first bucket.
        return state
    gap = int((through - state.last_minute) / MINUTE)
    alpha = config.baseline.alpha
    # While the running-mean step is larger than alpha, learn zeros one by one; this is
    # bounded by 1/alpha steps (87 for the default one-hour half-life), not by the gap.
    while gap > 0 and 1.0 / (state.seen + 1) > alpha:
        state = _learn(state, 0, 0, config)
        gap -= 1
    if gap > 0:
        # k zeros: mean * d and (1 - alpha)^k * (var + mean^2 * (1 - d)), d = (1 - alpha)^k.
        decay = (1.0 - alpha) ** gap
        history = _history(config)
        state = replace(
            state,
            seen=state.seen + gap,
            vol_mean=state.vol_mean * decay,
            vol_var=decay * (state.vol_var + state.vol_mean**2 * (1.0 - decay)),
            neg_mean=state.neg_mean * decay,
            # Same closed form: a window of zeros deviates by the decaying mean (the few
            # minutes while the window still holds older counts are neglected).
            win_var=decay * (state.win_var + state.vol_mean**2 * (1.0 - decay)),
            clu_mean=state.clu_mean * decay,
            clu_var=decay * (state.clu_var + state.clu_mean**2 * (1.0 - decay)),
            recent=(*state.recent, *((0, 0),) * min(gap, history))[-history:],
        )
    return replace(state, last_minute=through)


def _variance(state: DetectorState) -> float:
    # Counts are at least Poisson-noisy: the variance is never below the mean.
    return max(state.vol_var, state.vol_mean, MIN_VARIANCE)


def _cluster_variance(state: DetectorState) -> float:
    return max(state.clu_var, state.clu_mean, MIN_VARIANCE)


def _window_variance(state: DetectorState, span: int) -> float:
    return max(state.win_var, _variance(state) / span)


def _baseline_share(state: DetectorState, config: DetectionConfig) -> float:
    prior = config.negative.prior_share
    if state.seen < config.baseline.warmup_buckets:
        return prior
    return (state.neg_mean + prior * PRIOR_WEIGHT) / (state.vol_mean + PRIOR_WEIGHT)


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 or abs(x) >= 100 else f"{x:.1f}"


def _volume_candidates(
    state: DetectorState,
    current: float,
    config: DetectionConfig,
    *,
    reach: int,
    partial: tuple[int, float] | None = None,
) -> list[_Candidate]:
    vc = config.volume
    if not vc.enabled:
        return []
    spans = sorted({1, vc.window_minutes})
    warm = state.seen >= config.baseline.warmup_buckets
    mean, sd = state.vol_mean, math.sqrt(_variance(state))
    best: _Candidate | None = None
    for span in spans:
        previous = [v for v, _ in state.recent[-(span - 1) :]] if span > 1 else []
        if span > 1 and len(previous) < span - 1:
            continue  # not enough history for this window yet
        rate = (current + sum(previous)) / span
        if warm:
            z = (rate - mean) / math.sqrt(_window_variance(state, span) if span > 1 else sd * sd)
            if rate < vc.min_volume or rate < vc.min_ratio * mean or z < vc.z_threshold:
                continue
            score = z / vc.z_threshold
            baseline = f"baseline {_fmt(mean)}±{_fmt(sd)} (z={z:.1f})"
        else:
            if vc.cold_start_volume <= 0 or rate < vc.cold_start_volume:
                continue
            z = None
            score = rate / vc.cold_start_volume
            baseline = f"no baseline yet (floor {_fmt(vc.cold_start_volume)}/min)"
        if partial is not None and span == 1:
            seen, elapsed = partial
            what = f"volume {seen} in the first {elapsed:.0f} s (≥{_fmt(rate)}/min projected)"
        elif span == 1:
            what = f"volume {_fmt(rate)}/min"
        else:
            what = f"volume {_fmt(rate)}/min over the last {span} min"
        metrics: dict[str, Any] = {
            "volume": round(current, 1),
            "rate": round(rate, 2),
            "window_minutes": span,
            "baseline_mean": round(mean, 3),
            "baseline_sd": round(sd, 3),
            "z": round(z, 2) if z is not None else None,
            "warm": warm,
            "reach": reach,
        }
        if partial is not None:
            metrics.update(partial=True, seen=partial[0], elapsed_seconds=partial[1])
        cand = _Candidate(
            SignalKind.VOLUME_SPIKE, score, metrics, f"{what} vs {baseline}", magnitude=rate
        )
        if best is None or cand.score > best.score:
            best = cand
    return [best] if best else []


def _negative_candidates(
    state: DetectorState,
    volume: int,
    negative: int,
    config: DetectionConfig,
    *,
    partial: bool = False,
) -> list[_Candidate]:
    nc = config.negative
    if not nc.enabled:
        return []
    base = _baseline_share(state, config)
    margin = nc.margin
    # Binomial variance needs a share away from 0 and 1, or one negative post on a topic
    # that never had any would be infinitely surprising.
    p_var = min(0.98, max(0.02, base))
    best: _Candidate | None = None
    dispersions = (state.disp_short, state.disp_long)
    for span, learned in zip(_share_spans(config), dispersions, strict=True):
        # Never below binomial: a topic that happened to be steadier than chance must not
        # get a smaller yardstick than chance.
        dispersion = max(1.0, learned)
        previous = state.recent[-(span - 1) :] if span > 1 else ()
        vol = volume + sum(v for v, _ in previous)
        neg = negative + sum(n for _, n in previous)
        if vol <= 0 or neg < nc.min_negative:
            continue
        share = neg / vol
        z = (share - base) / math.sqrt(dispersion * p_var * (1.0 - p_var) / vol)
        if share - base < margin or z < nc.z_threshold:
            continue
        where = "this minute" if span == 1 else f"the last {min(span, len(previous) + 1)} min"
        if partial:
            where += " (minute in progress)"
        reason = (
            f"negative share {share:.0%} ({neg}/{vol}) over {where} vs baseline {base:.0%} "
            f"(+{(share - base) * 100:.0f} pts, z={z:.1f})"
        )
        cand = _Candidate(
            SignalKind.NEGATIVE_SURGE,
            z / nc.z_threshold,
            {
                "negative": neg,
                "volume": vol,
                "share": round(share, 4),
                "baseline_share": round(base, 4),
                "dispersion": round(dispersion, 3),
                "window_minutes": span,
                "z": round(z, 2),
                "partial": partial,
            },
            reason,
            magnitude=neg / min(span, len(previous) + 1),
        )
        if best is None or cand.score > best.score:
            best = cand
    return [best] if best else []


def _cluster_candidates(
    state: DetectorState, accounts: int, config: DetectionConfig
) -> list[_Candidate]:
    cc = config.coordinated
    found = check_cluster(accounts, cc.window_minutes, config)
    if not found:
        return []
    signal = found[0]
    metrics, reason, score = dict(signal.metrics), signal.reason, signal.score
    if state.seen >= config.baseline.warmup_buckets and cc.z_threshold > 0:
        sd = math.sqrt(_cluster_variance(state))
        z = (accounts - state.clu_mean) / sd
        if z < cc.z_threshold:
            return []
        metrics.update(baseline_mean=round(state.clu_mean, 2), baseline_sd=round(sd, 2))
        metrics["z"] = round(z, 2)
        reason += f", usually {_fmt(state.clu_mean)}±{_fmt(sd)} (z={z:.1f})"
        score = min(score, z / cc.z_threshold)
    return [_Candidate(signal.kind, score, metrics, reason, magnitude=float(accounts))]


def _cooldown(config: DetectionConfig) -> timedelta:
    return timedelta(minutes=config.cooldown_minutes)


def _gate(
    episodes: Mapping[str, Episode],
    found: list[_Candidate],
    minute: datetime,
    config: DetectionConfig,
) -> tuple[dict[str, Episode], list[Signal]]:
    """Cooldown: one alert per episode of a kind, plus one for each escalation."""
    cooldown = _cooldown(config)
    updated = dict(episodes)
    signals: list[Signal] = []
    for cand in found:
        ep = updated.get(cand.kind)
        if ep is not None and minute - ep.last_hit <= cooldown:
            if cand.magnitude < ep.magnitude * config.escalation_factor:
                updated[cand.kind] = replace(ep, last_hit=max(ep.last_hit, minute))
                continue
            ep = Episode(ep.start, max(ep.last_hit, minute), minute, cand.magnitude)
            metrics = {**cand.metrics, "escalation": True}
        else:
            ep = Episode(minute, minute, minute, cand.magnitude)
            metrics = cand.metrics
        updated[cand.kind] = ep
        signals.append(
            Signal(
                kind=cand.kind,
                score=cand.score,
                metrics=metrics,
                reason=cand.reason,
                fingerprint=f"{cand.kind}:{window_key(ep.start)}",
                at=minute,
            )
        )
    return updated, signals
