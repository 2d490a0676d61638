"""Detection: burst and rule detectors over per-topic minute buckets and single mentions.

Pure Python (no Django, no models): ``detectors`` holds the burst detectors and the
per-topic state, ``mention_rules`` the stateless per-mention and per-cluster rules,
``signals`` what both report, ``config`` the thresholds, ``series`` the synthetic series
the benchmark and tests use. See docs/detection.md.
"""

from __future__ import annotations

from monitoring.detection.config import (
    DEFAULT_CONFIG,
    BaselineConfig,
    CoordinatedConfig,
    DetectionConfig,
    HighReachConfig,
    NegativeSurgeConfig,
    PartialConfig,
    SensitiveTermConfig,
    VolumeSpikeConfig,
)
from monitoring.detection.detectors import (
    Bucket,
    DetectorState,
    Episode,
    advance_to,
    evaluate_bucket,
    evaluate_partial,
    fill_gaps,
    replay,
)
from monitoring.detection.mention_rules import MentionFacts, check_cluster, check_mention
from monitoring.detection.signals import Signal, SignalKind

__all__ = [
    "DEFAULT_CONFIG",
    "BaselineConfig",
    "Bucket",
    "CoordinatedConfig",
    "DetectionConfig",
    "DetectorState",
    "Episode",
    "HighReachConfig",
    "MentionFacts",
    "NegativeSurgeConfig",
    "PartialConfig",
    "SensitiveTermConfig",
    "Signal",
    "SignalKind",
    "VolumeSpikeConfig",
    "advance_to",
    "check_cluster",
    "check_mention",
    "evaluate_bucket",
    "evaluate_partial",
    "fill_gaps",
    "replay",
]
