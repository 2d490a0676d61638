"""A minute stays open long enough for polled sources to deliver its posts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from monitoring import services
from monitoring.models import Source


def test_grace_is_short_with_push_sources_only(db: Any) -> None:
    services.source_create(name="push", slug="push", kind=Source.Kind.WEBHOOK, platform="weibo")
    assert services.detection_grace() == timedelta(seconds=5)


def test_grace_covers_the_longest_enabled_poll_interval(db: Any) -> None:
    for slug, interval, enabled in (("a", 60, True), ("b", 120, True), ("c", 600, False)):
        services.source_create(
            name=slug,
            slug=slug,
            kind=Source.Kind.FEED,
            platform="weibo",
            url=f"https://example.com/{slug}.xml",
            interval_seconds=interval,
            enabled=enabled,
        )
    assert services.detection_grace() == timedelta(seconds=125)


def test_grace_is_capped(db: Any, settings: Any) -> None:
    settings.MONITORING_MAX_CLOSE_GRACE_SECONDS = 300
    services.source_create(
        name="slow",
        slug="slow",
        kind=Source.Kind.JSON_API,
        platform="news",
        url="https://example.com/api",
        interval_seconds=3600,
    )
    assert services.detection_grace() == timedelta(seconds=300)
