from __future__ import annotations

from django.utils import translation

from monitoring.alert_text import alert_summary

SPIKE = {"rate": 48.0, "baseline_mean": 3.14, "baseline_sd": 1.2, "z": 37.4}


def test_volume_spike_reads_in_chinese_by_default() -> None:
    with translation.override("zh-hans"):
        text = alert_summary("volume_spike", SPIKE, "fallback")
    assert text == "每分钟 48 帖，平时约 3.1 ± 1.2（z = 37.4）"


def test_same_alert_in_english() -> None:
    with translation.override("en"):
        assert alert_summary("volume_spike", SPIKE, "x") == (
            "48 posts/min against a usual 3.1 ± 1.2 (z = 37.4)"
        )


def test_sensitive_terms_are_listed() -> None:
    with translation.override("zh-hans"):
        text = alert_summary("sensitive_term", {"weight": 13, "terms": ["异物", "维权"]}, "x")
    assert text == "命中敏感词（权重 13）：异物、维权"


def test_missing_metrics_fall_back_to_the_stored_reason() -> None:
    assert alert_summary("volume_spike", {}, "40 posts/min") == "40 posts/min"
    assert alert_summary("new_kind", {"a": 1}, "stored") == "stored"
