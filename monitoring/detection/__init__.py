"""Detection: burst and rule detectors over per-topic minute buckets and single mentions.

Pure Python (no Django, no models): ``detectors`` holds the functions and the per-topic
state, ``config`` the thresholds, ``series`` the synthetic series the benchmark and tests
use. See docs/detection.md.
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
    MentionFacts,
    Signal,
    SignalKind,
    advance_to,
    check_cluster,
    check_mention,
    evaluate_bucket,
    evaluate_partial,
    fill_gaps,
    replay,
)

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
