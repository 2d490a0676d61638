"""Burst detection per topic: the closed minutes and the minute in progress judged against
the topic's own baseline (the algorithms are ``monitoring.detection``; this module reads
the buckets, keeps the detector state and raises what is found).

Run for the topics a stored batch touched (the ``monitoring.topics_detect`` task, within
seconds of the posts) and for every topic every few seconds (``topics_detect_due``, so quiet
minutes close and the baseline learns silence too).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Sum
from django.utils import timezone

from monitoring.detection import (
    Bucket,
    Signal,
    SignalKind,
    advance_to,
    evaluate_bucket,
    evaluate_partial,
)
from monitoring.detection import DetectorState as DetectorStateValue
from monitoring.models import Alert, DetectorState, MentionTopic, Topic, TopicBucket
from monitoring.services.alerts import alert_raise
from monitoring.services.thresholds import alert_max_age, detection_config, detection_grace

logger = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)


def _minute_series(topic_id: int, after: datetime | None, through: datetime) -> list[Bucket]:
    qs = TopicBucket.objects.filter(topic_id=topic_id, minute__lte=through)
    if after is not None:
        qs = qs.filter(minute__gt=after)
    rows = (
        qs.values("minute")
        .annotate(v=Sum("volume"), n=Sum("negative"), r=Sum("reach"))
        .order_by("minute")
    )
    return [
        Bucket(minute=r["minute"], volume=r["v"] or 0, negative=r["n"] or 0, reach=r["r"] or 0)
        for r in rows
    ]


def topic_detect(*, topic_id: int, now: datetime | None = None) -> list[Alert]:
    """Judge the topic's closed minutes and the minute in progress; raise what is found.

    The state is read, advanced in memory and written back with a conditional UPDATE on its
    version: a worker that lost the race to another drops its signals (the winner judged
    the same minutes). A fresh state is warmed from up to MONITORING_WARMUP_HOURS of
    history with its signals dropped: old bursts are not news.
    """
    now = now or timezone.now()
    topic = Topic.objects.filter(pk=topic_id, enabled=True).first()
    if topic is None:
        return []
    try:
        config = detection_config(topic.thresholds)
    except ValueError:
        config = detection_config(None)
    row, _created = DetectorState.objects.get_or_create(topic=topic)
    try:
        state = DetectorStateValue.from_dict(row.state)
    except ValueError:
        logger.warning("topic %s: malformed detector state, starting again", topic_id)
        state = DetectorStateValue()
    closed_through = (now - detection_grace()).replace(second=0, microsecond=0) - MINUTE
    keep_after = now - alert_max_age()
    signals: list[Signal] = []
    if state.last_minute is None:
        warm_from = now - timedelta(hours=float(settings.MONITORING_WARMUP_HOURS))
        for bucket in _minute_series(
            topic_id, warm_from.replace(second=0, microsecond=0), closed_through
        ):
            state, _dropped = evaluate_bucket(state, bucket, config)
        state = advance_to(state, closed_through, config)
    else:
        for bucket in _minute_series(topic_id, state.last_minute, closed_through):
            state, found = evaluate_bucket(state, bucket, config)
            signals.extend(s for s in found if bucket.minute >= keep_after)
        state = advance_to(state, closed_through, config)
    # The minutes not closed yet: the one in progress, and the previous one while it is in
    # its grace period (a burst starting at :01 must not wait for the grace to pass).
    for pb in _minute_series(topic_id, closed_through, now.replace(second=0, microsecond=0)):
        elapsed = min(60.0, (now - pb.minute).total_seconds())
        if elapsed < config.partial.min_elapsed_seconds:
            # Too early in the minute to extrapolate; the posts seen so far are still a
            # lower bound of the minute's count, so judge them as a whole minute (no
            # extrapolation): a burst in the first seconds alerts now, not 10 s later.
            elapsed = 60.0
        state, found = evaluate_partial(state, pb, elapsed, config)
        signals.extend(found)
    won = DetectorState.objects.filter(pk=row.pk, version=row.version).update(
        state=state.to_dict(), version=F("version") + 1, evaluated_at=now
    )
    if not won:
        return []
    alerts = []
    for signal in signals:
        evidence = _window_evidence(topic_id, signal, now)
        alert, _new = alert_raise(topic_id=topic_id, signal=signal, evidence_ids=evidence, now=now)
        alerts.append(alert)
    return alerts


def _window_evidence(topic_id: int, signal: Signal, now: datetime) -> list[int]:
    """The posts behind a bucket signal: the topic's mentions in the last minutes, the
    negative ones first for a negative surge, by reach."""
    at = signal.at or now
    minutes = (
        int(signal.metrics.get("window_minutes") or 5) if isinstance(signal.metrics, dict) else 5
    )
    qs = MentionTopic.objects.filter(
        topic_id=topic_id,
        minute__gte=at.replace(second=0, microsecond=0) - timedelta(minutes=max(1, minutes)),
    )
    if signal.kind == SignalKind.NEGATIVE_SURGE:
        qs = qs.filter(negative=True)
    order = ["-negative", "-reach", "-minute"]
    return list(qs.order_by(*order).values_list("mention_id", flat=True)[:20])


def topics_detect_due(*, now: datetime | None = None) -> list[Alert]:
    """Every enabled topic (the beat task): closes quiet minutes and catches what no push
    triggered."""
    alerts: list[Alert] = []
    for topic_id in Topic.objects.filter(enabled=True).values_list("pk", flat=True):
        try:
            alerts.extend(topic_detect(topic_id=topic_id, now=now))
        except Exception:
            logger.exception("detection of topic %s failed", topic_id)
    return alerts
