"""Per-mention rules, the per-cluster rule and the configuration overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitoring.detection import (
    DEFAULT_CONFIG,
    DetectionConfig,
    MentionFacts,
    SignalKind,
    check_cluster,
    check_mention,
)

SH = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 24, 10, 5, 30, tzinfo=SH)


def kinds(signals):
    return [s.kind for s in signals]


def test_high_reach_negative_by_followers():
    (s,) = check_mention(
        MentionFacts("negative", followers=1_250_000, mention_key="weibo:42", posted_at=AT)
    )
    assert s.kind == SignalKind.HIGH_REACH_NEGATIVE
    assert "1,250,000 followers (threshold 100,000)" in s.reason
    assert s.fingerprint == "high_reach_negative:weibo:42"
    assert s.score == pytest.approx(12.5)
    assert check_mention(MentionFacts("negative", followers=99_999)) == []
    assert check_mention(MentionFacts("positive", followers=5_000_000)) == []
    assert check_mention(MentionFacts("", followers=5_000_000)) == []


@pytest.mark.parametrize(
    ("verified_type", "expected"),
    [("media", True), ("kol", True), ("government", True), ("personal", False), ("", False)],
)
def test_high_reach_negative_by_verified_type(verified_type, expected):
    facts = MentionFacts("negative", followers=800, verified=True, verified_type=verified_type)
    assert bool(check_mention(facts)) is expected
    # The type counts only when the account is verified.
    assert check_mention(MentionFacts("negative", verified_type=verified_type)) == []


def test_high_reach_negative_by_engagement():
    (s,) = check_mention(MentionFacts("negative", followers=10, engagement=3000))
    assert "3,000 interactions" in s.reason


def test_sensitive_term_weight_threshold_and_grouping():
    facts = MentionFacts(
        "neutral",
        sensitive_weight=4.0,
        sensitive_terms=("维权", "爆炸"),
        mention_key="weibo:1",
        posted_at=AT,
    )
    (s,) = check_mention(facts)
    assert s.kind == SignalKind.SENSITIVE_TERM
    assert "weight 4 (threshold 3)" in s.reason and "维权" in s.reason
    # Other terms in the same hour (another post): the same alert, one per topic and hour.
    other = MentionFacts(
        "negative",
        sensitive_weight=4.0,
        sensitive_terms=("罢工",),
        mention_key="weibo:2",
        posted_at=AT.replace(minute=59),
    )
    assert check_mention(other)[0].fingerprint == s.fingerprint
    assert s.fingerprint == "sensitive_term:20261124T0200Z"
    later = MentionFacts("neutral", sensitive_weight=4.0, posted_at=AT + timedelta(hours=1))
    assert check_mention(later)[0].fingerprint != s.fingerprint
    assert check_mention(MentionFacts("neutral", sensitive_weight=2.9)) == []


def test_both_rules_can_fire_on_one_mention():
    facts = MentionFacts("negative", verified=True, verified_type="kol", sensitive_weight=3)
    assert kinds(check_mention(facts)) == [
        SignalKind.HIGH_REACH_NEGATIVE,
        SignalKind.SENSITIVE_TERM,
    ]


def test_check_cluster_threshold_scales_with_a_longer_window():
    (s,) = check_cluster(25, 30, cluster_key="a1b2", at=AT)
    assert s.kind == SignalKind.COORDINATED_POSTING
    assert s.fingerprint == "coordinated_posting:a1b2"
    assert "25 distinct accounts within 30 min" in s.reason
    assert check_cluster(19, 30) == []
    assert check_cluster(25, 10)  # faster than required: still a campaign
    assert check_cluster(25, 60) == []  # 25 accounts in an hour is half the rate
    assert check_cluster(40, 60)


def test_config_overrides_and_errors():
    cfg = DetectionConfig.from_dict(
        {
            "volume": {"z_threshold": 8, "min_volume": 20},
            "high_reach": {"verified_types": ["media"]},
            "cooldown_minutes": 60,
        }
    )
    assert cfg.volume.z_threshold == 8.0 and cfg.volume.min_volume == 20.0
    assert cfg.high_reach.verified_types == frozenset({"media"})
    assert cfg.cooldown_minutes == 60
    assert cfg.negative == DEFAULT_CONFIG.negative
    assert DetectionConfig.from_dict(cfg.to_dict()) == cfg
    assert DetectionConfig.from_dict(None) == DEFAULT_CONFIG
    for bad, message in [
        ({"volum": {}}, "unknown detection setting 'volum'"),
        ({"volume": {"z": 3}}, "unknown detection setting volume.z"),
        ({"volume": {"z_threshold": "high"}}, "must be a number"),
        ({"volume": {"enabled": 1}}, "true or false"),
        ({"volume": {"window_minutes": 0}}, "at least 1"),
        ({"baseline": {"half_life_minutes": 0}}, "must be positive"),
        ({"cooldown_minutes": -5}, "must not be negative"),
        ({"volume": 3}, "must be an object"),
    ]:
        with pytest.raises(ValueError, match=message):
            DetectionConfig.from_dict(bad)


def test_alpha_from_half_life():
    cfg = DEFAULT_CONFIG.baseline
    assert (1 - cfg.alpha) ** cfg.half_life_minutes == pytest.approx(0.5)
