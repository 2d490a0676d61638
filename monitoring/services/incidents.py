"""Monitoring's side of an incident: its signals and its propagation summary.

``incident_refresh_signals`` recomputes the signals crisis.severity scores (negative volume,
growth over the baseline, reach, influential authors, sensitive hits) from the rollups of
the incident's topics and hands them to ``crisis.services.incident_update_signals``, which
raises severity (never lowers it). ``incident_propagation_refresh`` builds the repost tree
of the incident's mentions (``monitoring.propagation``) and stores its summary for the
incident page and the post-mortem.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Q, Sum
from django.utils import timezone

from crisis import services as crisis_services
from crisis.models import OPEN_STATUSES, Incident
from monitoring.ingest import parse_repost_chain
from monitoring.models import Alert, DetectorState, IncidentPropagation, MentionTopic, TopicBucket
from monitoring.propagation import PostNode, summarize
from monitoring.selectors import incident_mentions
from monitoring.services.thresholds import detection_config

logger = logging.getLogger(__name__)


HIGH_INFLUENCE_FOLLOWERS = 100_000


def topic_signals(
    *, topic_ids: Sequence[int], since: datetime, now: datetime | None = None
) -> dict[str, Any]:
    """The signals crisis.severity scores, from the rollups and links since ``since`` (the
    incident's detection, less the detection window)."""
    now = now or timezone.now()
    start = since.replace(second=0, microsecond=0) - timedelta(minutes=10)
    agg = TopicBucket.objects.filter(topic_id__in=topic_ids, minute__gte=start).aggregate(
        negative=Sum("negative"), reach=Sum("negative_reach"), volume=Sum("volume")
    )
    peak = (
        TopicBucket.objects.filter(topic_id__in=topic_ids, minute__gte=start)
        .values("minute")
        .annotate(n=Sum("negative"))
        .aggregate(peak=Max("n"))["peak"]
        or 0
    )
    baseline = 0.0
    for state in DetectorState.objects.filter(topic_id__in=topic_ids).values_list(
        "state", flat=True
    ):
        baseline += float((state or {}).get("neg_mean") or 0.0)
    growth = round(peak / max(baseline, 0.5), 2)
    links = MentionTopic.objects.filter(topic_id__in=topic_ids, minute__gte=start)
    influential = (
        links.filter(negative=True)
        .filter(
            Q(mention__author_followers__gte=HIGH_INFLUENCE_FOLLOWERS)
            | Q(mention__author_verified=True)
        )
        .values("mention__author_name")
        .distinct()
        .count()
    )
    threshold = detection_config(None).sensitive.weight_threshold
    sensitive = (
        links.filter(sensitive_weight__gte=threshold).values("mention_id").distinct().count()
    )
    return {
        "negative_volume": int(agg["negative"] or 0),
        "growth": growth,
        "reach": int(agg["reach"] or 0),
        "high_influence_authors": influential,
        "sensitive_hits": sensitive,
        "volume": int(agg["volume"] or 0),
    }


def incident_refresh_signals(*, incident_id: int, now: datetime | None = None) -> Incident | None:
    """Recompute an open incident's signals from its topics and hand them to
    crisis.incident_update_signals, which raises severity (never lowers it) with a timeline
    event naming the signal that crossed its threshold. Unchanged signals write nothing."""
    now = now or timezone.now()
    incident = Incident.objects.filter(pk=incident_id, status__in=OPEN_STATUSES).first()
    if incident is None:
        return None
    topic_ids = list(
        Alert.objects.filter(incident_id=incident_id).values_list("topic_id", flat=True).distinct()
    )
    if not topic_ids:
        return incident
    signals = topic_signals(topic_ids=topic_ids, since=incident.detected_at, now=now)
    if signals == (incident.signals or {}):
        return incident
    return crisis_services.incident_update_signals(incident=incident, signals=signals, now=now)


def incidents_refresh_open(*, now: datetime | None = None) -> int:
    ids = list(
        Incident.objects.filter(status__in=OPEN_STATUSES, monitoring_alerts__isnull=False)
        .values_list("pk", flat=True)
        .distinct()
    )
    for incident_id in ids:
        try:
            incident_refresh_signals(incident_id=incident_id, now=now)
        except Exception:
            logger.exception("refreshing the signals of incident %s failed", incident_id)
    return len(ids)


# Mentions read to build one incident's repost tree; the biggest audiences first.
PROPAGATION_MAX_POSTS = 5000


def incident_propagation_refresh(*, incident_id: int) -> Any:
    """Build the repost tree of the incident's mentions (parent/root ids and ``//@`` chains,
    monitoring.propagation) and store its summary for the incident page and post-mortem."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        return None
    rows = (
        incident_mentions(incident=incident)
        .order_by("-author_followers")
        .values(
            "platform",
            "external_id",
            "parent_external_id",
            "root_external_id",
            "author_id",
            "author_name",
            "author_followers",
            "reposts",
            "posted_at",
            "text",
        )[:PROPAGATION_MAX_POSTS]
    )
    nodes = []
    for r in rows:
        platform = r["platform"]
        text = r["text"] or ""
        names = parse_repost_chain(text).names if "@" in text else []
        nodes.append(
            PostNode(
                id=f"{platform}:{r['external_id']}",
                parent_id=f"{platform}:{r['parent_external_id']}"
                if r["parent_external_id"]
                else None,
                root_id=f"{platform}:{r['root_external_id']}" if r["root_external_id"] else None,
                author_id=r["author_id"] or r["author_name"] or "",
                author_name=r["author_name"] or "",
                followers=int(r["author_followers"] or 0),
                reposts=int(r["reposts"] or 0),
                posted_at=r["posted_at"],
                platform=platform,
                chain_names=tuple(names),
            )
        )
    summary = summarize(nodes)
    row, _created = IncidentPropagation.objects.update_or_create(
        incident=incident,
        defaults={
            "summary": summary.to_dict(),
            "mention_count": len(nodes),
            "refreshed_at": timezone.now(),
        },
    )
    return row


def propagations_refresh_open() -> int:
    ids = list(
        Incident.objects.filter(status__in=OPEN_STATUSES, monitoring_alerts__isnull=False)
        .values_list("pk", flat=True)
        .distinct()
    )
    for incident_id in ids:
        try:
            incident_propagation_refresh(incident_id=incident_id)
        except Exception:
            logger.exception("propagation of incident %s failed", incident_id)
    return len(ids)
