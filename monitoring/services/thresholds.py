"""How detection is tuned: a topic's detection config and the time windows of alerting.

Every value comes from the settings (crisis/settings.py, "Product settings") or from the
topic's own thresholds; ``monitoring.detection`` holds the algorithms and their defaults.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max

from monitoring.detection import DetectionConfig
from monitoring.models import Source


def alert_max_age() -> timedelta:
    """Posts older than this raise no alert: a backfill of last month must not page anyone."""
    return timedelta(minutes=float(settings.MONITORING_ALERT_MAX_AGE_MINUTES))


def detection_grace() -> timedelta:
    """A minute is closed this long after it ends, so posts stored late still count in its
    bucket (and are judged, as part of a minute in progress) before the baseline learns it.

    Polled sources deliver a minute's posts up to one poll interval late: a burst posted in
    the last seconds of a minute reaches the inbox after that minute would otherwise have
    closed, and would never be judged. So the grace covers the longest enabled poll interval,
    capped at MONITORING_MAX_CLOSE_GRACE_SECONDS (default 15 min).
    """
    base = float(settings.MONITORING_CLOSE_GRACE_SECONDS)
    longest = (
        Source.objects.filter(
            enabled=True, kind__in=[Source.Kind.FEED, Source.Kind.JSON_API]
        ).aggregate(longest=Max("interval_seconds"))["longest"]
        or 0
    )
    cap = float(settings.MONITORING_MAX_CLOSE_GRACE_SECONDS)
    return timedelta(seconds=min(base + longest, max(cap, base)))


# Monitoring's own defaults over monitoring.detection's: the term library weighs terms 1-10
# (10 = act now), where the detector's default threshold of 3 assumed 1-3, so a single 投诉
# (weight 4) would alert. 8 = one severe term (查封, 食物中毒) or two moderate ones.
DEFAULT_OVERRIDES: dict[str, Any] = {"sensitive": {"weight_threshold": 8.0}}


def detection_config(thresholds: dict[str, Any] | None) -> DetectionConfig:
    """The defaults, the project's overrides (MONITORING_DETECTION_DEFAULTS), the topic's."""
    base = DetectionConfig.from_dict(
        _merge(DEFAULT_OVERRIDES, settings.MONITORING_DETECTION_DEFAULTS or {})
    )
    return base.with_overrides(thresholds or {})


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in a.items()}
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
