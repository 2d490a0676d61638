"""Thresholds of the detectors, as frozen dataclasses with documented defaults.

The reasoning behind each default, and the benchmark that backs it, is in
``docs/detection.md``. A topic may override any field: ``DetectionConfig.from_dict`` takes
the nested JSON a Topic keeps (``{"volume": {"z_threshold": 6}}``) and rejects unknown keys
and wrong types with a message that names the field, so a typo in an override is an error
instead of a silently ignored threshold.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class BaselineConfig:
    """How the per-topic baseline (EWMA of volume and negative count) learns."""

    # Half-life of the EWMA in minutes. One hour follows a daily cycle closely enough that
    # its slow ramps stay far below the spike threshold, while a burst that lasts a few
    # minutes barely moves it (see docs/detection.md, "Daily cycles").
    half_life_minutes: float = 60.0
    # Buckets (minutes, empty ones included) before z-scores are trusted. Until then only
    # the absolute floors (cold_start_volume, prior_share) can raise an alert.
    warmup_buckets: int = 30
    # A bucket far above the baseline is clipped to mean + clip_sigmas * sd before it is
    # learned, so a burst does not inflate the baseline it is judged against (and the next
    # burst is still caught); a lasting new level is still learned, only more slowly.
    clip_sigmas: float = 3.0

    @property
    def alpha(self) -> float:
        return 1.0 - 0.5 ** (1.0 / self.half_life_minutes)


@dataclass(frozen=True, slots=True)
class VolumeSpikeConfig:
    enabled: bool = True
    # z-score of the recent volume against the baseline. The variance used is the larger of
    # the learned EWMA variance and the Poisson variance (the mean), so a very steady topic
    # does not get a tiny variance and alert on noise.
    z_threshold: float = 6.0
    # The recent rate must also be at least this many posts per minute ...
    min_volume: float = 10.0
    # ... and at least this multiple of the baseline mean, so a busy topic is not paged for
    # a statistically significant but small change (+30% on 200/min).
    min_ratio: float = 2.0
    # The recent window: the current minute alone (sharp bursts) and the mean over the last
    # window_minutes (a sustained rise that no single minute shows).
    window_minutes: int = 5
    # While the baseline is warming up, a topic alerts only at this absolute rate.
    cold_start_volume: float = 50.0


@dataclass(frozen=True, slots=True)
class NegativeSurgeConfig:
    enabled: bool = True
    # The recent negative share must exceed the baseline share by this many points (0.2 = 20
    # percentage points) ...
    margin: float = 0.2
    # ... with at least this many negative posts in the span tested ...
    min_negative: int = 10
    # ... and a z-score at least this: the share against the baseline share, in units of the
    # binomial standard deviation times the topic's learned dispersion. It keeps a small
    # sample (8 of 12 negative) from alerting on chance.
    z_threshold: float = 4.5
    # Spans tested: the last short_window_minutes (a surge that comes with a burst shows
    # within a minute or two) and the last window_minutes (a slower turn of the tone). A
    # single minute is not tested: one minute's share is mostly noise.
    short_window_minutes: int = 3
    window_minutes: int = 10
    # The baseline share used until the topic is warmed up: a typical negative share of
    # brand mentions, so a topic that is born in a crisis still alerts.
    prior_share: float = 0.2


@dataclass(frozen=True, slots=True)
class HighReachConfig:
    enabled: bool = True
    # Weibo's own "big V" line is around here, and crisis.severity counts the same authors.
    follower_threshold: int = 100_000
    # Normalized verified types that count as high reach whatever the follower count.
    # Government accounts are included: a regulator criticising the brand is a crisis.
    verified_types: frozenset[str] = frozenset({"media", "kol", "government"})
    # A post whose own interactions (reposts + comments + likes) reach this is spreading,
    # whoever wrote it. 0 disables the check.
    engagement_threshold: int = 1000


@dataclass(frozen=True, slots=True)
class SensitiveTermConfig:
    enabled: bool = True
    # Sum of the weights of the library terms a mention hits. Weights follow the term
    # library: 1 for watch words, 3 for legal/safety/regulator words, so one severe term or
    # three watch words alert.
    weight_threshold: float = 3.0


@dataclass(frozen=True, slots=True)
class CoordinatedConfig:
    enabled: bool = True
    # Distinct accounts posting near-duplicate text within window_minutes (水军).
    min_accounts: int = 20
    window_minutes: int = 30
    # Once the topic is warmed up the cluster must also stand out from the topic's usual
    # largest cluster by this z-score: busy topics have big natural duplicate clusters.
    # (check_cluster, which has no state, applies only the absolute threshold.)
    z_threshold: float = 5.0


@dataclass(frozen=True, slots=True)
class PartialConfig:
    """Evaluating the current, unfinished minute."""

    # Before this many seconds the sample is too small to extrapolate from.
    min_elapsed_seconds: float = 10.0
    # The rate for the rest of the minute is the observed count minus k standard deviations
    # (Poisson), per second: a lower confidence bound, so a handful of posts in the first
    # seconds does not project to a spike.
    confidence_k: float = 2.0
    # Judge the negative share on the minute in progress too. Off: every partial look is
    # one more test, and in the benchmark it added false alarms while only bringing alerts
    # forward where a volume spike had already alerted.
    include_negative: bool = False


@dataclass(frozen=True, slots=True)
class DetectionConfig:
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    volume: VolumeSpikeConfig = field(default_factory=VolumeSpikeConfig)
    negative: NegativeSurgeConfig = field(default_factory=NegativeSurgeConfig)
    high_reach: HighReachConfig = field(default_factory=HighReachConfig)
    sensitive: SensitiveTermConfig = field(default_factory=SensitiveTermConfig)
    coordinated: CoordinatedConfig = field(default_factory=CoordinatedConfig)
    partial: PartialConfig = field(default_factory=PartialConfig)
    # After an alert of a kind, the same kind on the same topic stays quiet until its
    # condition has been clear for this long (one ongoing burst is one alert) ...
    cooldown_minutes: int = 30
    # ... unless the score reaches this multiple of the last alert's score (it got worse).
    escalation_factor: float = 2.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(value):
                out[f.name] = {
                    sub.name: _jsonable(getattr(value, sub.name))
                    for sub in dataclasses.fields(value)
                }
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DetectionConfig:
        """Defaults with the given overrides applied (a partial dict is fine)."""
        return DEFAULT_CONFIG.with_overrides(data or {})

    def with_overrides(self, data: dict[str, Any]) -> DetectionConfig:
        if not isinstance(data, dict):
            raise ValueError("detection config must be a JSON object")
        changes: dict[str, Any] = {}
        known = {f.name: f for f in dataclasses.fields(self)}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"unknown detection setting {key!r}")
            current = getattr(self, key)
            if dataclasses.is_dataclass(current) and not isinstance(current, type):
                if not isinstance(value, dict):
                    raise ValueError(f"detection setting {key!r} must be an object")
                changes[key] = _override_section(key, current, value)
            else:
                changes[key] = _coerce(key, current, value)
        return dataclasses.replace(self, **changes)


def _jsonable(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    return value


def _override_section(section: str, current: Any, data: dict[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(current)}
    changes = {}
    for key, value in data.items():
        if key not in known:
            raise ValueError(f"unknown detection setting {section}.{key}")
        changes[key] = _coerce(f"{section}.{key}", getattr(current, key), value)
    result = dataclasses.replace(current, **changes)
    _check_ranges(section, result)
    return result


def _coerce(name: str, current: Any, value: Any) -> Any:
    # bool is an int subclass: check it first so "enabled": 1 is rejected, not accepted.
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ValueError(f"detection setting {name} must be true or false")
        return value
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"detection setting {name} must be an integer")
        if value < 0:
            raise ValueError(f"detection setting {name} must not be negative")
        return value
    if isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"detection setting {name} must be a number")
        if value < 0 or value != value:
            raise ValueError(f"detection setting {name} must be a non-negative number")
        return float(value)
    if isinstance(current, frozenset):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"detection setting {name} must be a list of strings")
        return frozenset(value)
    raise ValueError(f"detection setting {name} cannot be overridden")


def _check_ranges(section: str, cfg: Any) -> None:
    if isinstance(cfg, BaselineConfig):
        if cfg.half_life_minutes <= 0:
            raise ValueError("detection setting baseline.half_life_minutes must be positive")
        if cfg.clip_sigmas <= 0:
            raise ValueError("detection setting baseline.clip_sigmas must be positive")
    for name in ("window_minutes",):
        if hasattr(cfg, name) and getattr(cfg, name) < 1:
            raise ValueError(f"detection setting {section}.{name} must be at least 1")
    if isinstance(cfg, NegativeSurgeConfig) and not 0 <= cfg.prior_share <= 1:
        raise ValueError("detection setting negative.prior_share must be between 0 and 1")


DEFAULT_CONFIG = DetectionConfig()
