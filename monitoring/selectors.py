"""Reads of monitoring shared by views, API, tasks and commands (writes are in
``monitoring.services``)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from crisis.models import Incident
from monitoring.models import (
    Alert,
    Mention,
    MentionTopic,
    Polarity,
    RawItem,
    SensitiveTerm,
    SentimentCorrection,
    Source,
    Topic,
    TopicBucket,
)
from monitoring.rules import SensitiveTermRow, write_terms_csv

TIME_RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


@dataclass(frozen=True)
class StreamFilters:
    platform: str = ""
    polarity: str = ""
    crisis_type: str = ""
    source: str = ""  # slug
    time_range: str = ""  # a key of TIME_RANGES, or "" for any time
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""
    batch: int | None = None  # the inbox payload (an import) that brought the mentions
    cluster: int | None = None  # unfold one near-duplicate cluster


@dataclass(frozen=True)
class StreamEntry:
    mention: Mention
    # Members of the mention's cluster among the filtered mentions (1 = not folded).
    folded: int

    @property
    def similar(self) -> int:
        return self.folded - 1


def mentions_filtered(filters: StreamFilters, *, now: datetime | None = None) -> QuerySet[Mention]:
    qs = Mention.objects.all()
    if filters.platform:
        qs = qs.filter(platform=filters.platform)
    if filters.polarity:
        qs = qs.filter(polarity=filters.polarity)
    if filters.crisis_type:
        qs = qs.filter(crisis_type=filters.crisis_type)
    if filters.source:
        qs = qs.filter(source__slug=filters.source)
    if filters.time_range in TIME_RANGES:
        qs = qs.filter(posted_at__gte=(now or timezone.now()) - TIME_RANGES[filters.time_range])
    if filters.since:
        qs = qs.filter(posted_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(posted_at__lt=filters.until)
    if filters.q:
        qs = qs.filter(text__icontains=filters.q)
    if filters.batch:
        qs = qs.filter(raw_item_id=filters.batch)
    if filters.cluster:
        qs = qs.filter(cluster_id=filters.cluster)
    return qs


def mention_stream(
    filters: StreamFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[StreamEntry], bool]:
    """The newest mentions matching ``filters``, near-duplicates folded into one entry
    (unless one cluster is asked for). Returns (entries, whether there are more)."""
    qs = mentions_filtered(filters)
    if filters.cluster:
        rows = list(
            qs.select_related("source", "cluster").order_by("-posted_at", "-pk")[
                offset : offset + limit + 1
            ]
        )
        return [StreamEntry(m, 1) for m in rows[:limit]], len(rows) > limit
    # One group per cluster; a mention without a cluster (no words to compare) is its own.
    groups = list(
        qs.annotate(group_key=Coalesce("cluster_id", -F("id")))
        .values("group_key")
        .annotate(folded=Count("id"), representative=Max("id"), latest=Max("posted_at"))
        .order_by("-latest", "-representative")[offset : offset + limit + 1]
    )
    ids = [g["representative"] for g in groups[:limit]]
    mentions = Mention.objects.select_related("source", "cluster").in_bulk(ids)
    entries = [
        StreamEntry(mentions[g["representative"]], g["folded"])
        for g in groups[:limit]
        if g["representative"] in mentions
    ]
    return entries, len(groups) > limit


def sources_with_health() -> QuerySet[Source]:
    return Source.objects.annotate(mention_count=Count("mentions")).order_by("name")


def recent_imports(*, limit: int = 10) -> QuerySet[RawItem]:
    return (
        RawItem.objects.filter(channel__in=[RawItem.Channel.UPLOAD, RawItem.Channel.COMMAND])
        .select_related("source", "uploaded_by")
        .defer("body")
        .order_by("-received_at")[:limit]
    )


# --- watch topics, alerts, charts (issue 5) --------------------------------------------------


SPARK_MINUTES = 60
RATE_MINUTES = 5


def _token(*parts: object) -> str:
    raw = ":".join(str(p) for p in parts)
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:16]


def dashboard_token(*, now: datetime | None = None) -> str:
    """Moves when a mention is linked to a topic, an alert changes, a topic is edited, or a
    minute passes (the sparklines slide)."""
    now = now or timezone.now()
    links = MentionTopic.objects.aggregate(last=Max("pk"))
    alerts = Alert.objects.aggregate(last=Max("updated_at"), n=Count("pk"))
    topics = Topic.objects.aggregate(last=Max("updated_at"), n=Count("pk"))
    return _token(
        links["last"],
        alerts["last"],
        alerts["n"],
        topics["last"],
        topics["n"],
        now.strftime("%H%M"),
    )


@dataclass(frozen=True)
class TopicRow:
    topic: Topic
    spark: list[int]
    rate: float
    negative_share: float | None
    open_alerts: int
    incident_id: int | None


def dashboard_rows(*, now: datetime | None = None) -> list[TopicRow]:
    """Each topic with its last hour per minute, current rate, negative share and alert
    state: two grouped reads of the rollups, whatever the number of mentions."""
    from crisis.models import OPEN_STATUSES

    now = now or timezone.now()
    current = now.replace(second=0, microsecond=0)
    start = current - timedelta(minutes=SPARK_MINUTES - 1)
    series: dict[int, dict[datetime, tuple[int, int]]] = {}
    for row in (
        TopicBucket.objects.filter(minute__gte=start)
        .values("topic_id", "minute")
        .annotate(v=Sum("volume"), n=Sum("negative"))
    ):
        series.setdefault(row["topic_id"], {})[row["minute"]] = (row["v"] or 0, row["n"] or 0)
    open_alerts = dict(
        Alert.objects.filter(status=Alert.Status.NEW)
        .values("topic_id")
        .annotate(n=Count("pk"))
        .values_list("topic_id", "n")
    )
    incidents: dict[int, int] = {}
    for topic_id, incident_id in (
        Alert.objects.filter(incident__status__in=OPEN_STATUSES)
        .order_by("incident_id")
        .values_list("topic_id", "incident_id")
    ):
        incidents[topic_id] = incident_id
    rows = []
    for topic in Topic.objects.all():
        minutes = series.get(topic.pk, {})
        spark = [minutes.get(start + timedelta(minutes=i), (0, 0))[0] for i in range(SPARK_MINUTES)]
        recent = spark[-RATE_MINUTES:]
        volume = sum(v for v, _n in minutes.values())
        negative = sum(n for _v, n in minutes.values())
        rows.append(
            TopicRow(
                topic=topic,
                spark=spark,
                rate=round(sum(recent) / RATE_MINUTES, 1),
                negative_share=(negative / volume) if volume else None,
                open_alerts=open_alerts.get(topic.pk, 0),
                incident_id=incidents.get(topic.pk),
            )
        )
    return rows


def alert_queue(*, status: str = "", limit: int = 100) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("topic", "incident", "acknowledged_by", "dismissed_by")
    if status in Alert.Status.values:
        qs = qs.filter(status=status)
    elif status != "all":
        qs = qs.exclude(status=Alert.Status.DISMISSED)
    return qs.order_by("-last_seen_at", "-pk")[:limit]


def alert_queue_token(*, status: str = "") -> str:
    agg = Alert.objects.aggregate(last=Max("updated_at"), n=Count("pk"))
    return _token(agg["last"], agg["n"], status)


def topic_series(
    *, topic_ids: list[int], since: datetime, until: datetime | None = None
) -> dict[str, list[tuple[datetime, int, int, int]]]:
    """platform -> [(minute, volume, negative, reach)] from the rollups."""
    qs = TopicBucket.objects.filter(topic_id__in=topic_ids, minute__gte=since)
    if until is not None:
        qs = qs.filter(minute__lte=until)
    out: dict[str, list[tuple[datetime, int, int, int]]] = {}
    for row in (
        qs.values("platform", "minute")
        .annotate(v=Sum("volume"), n=Sum("negative"), r=Sum("reach"))
        .order_by("minute")
    ):
        out.setdefault(row["platform"], []).append((row["minute"], row["v"], row["n"], row["r"]))
    return out


def topic_top_posts(*, topic: Topic, since: datetime, limit: int = 10) -> list[Mention]:
    ids = list(
        MentionTopic.objects.filter(topic=topic, minute__gte=since)
        .order_by("-reach", "-minute")
        .values_list("mention_id", flat=True)[:limit]
    )
    found = Mention.objects.in_bulk(ids)
    return [found[i] for i in ids if i in found]


def topic_keywords(
    *, topic: Topic, since: datetime, limit: int = 15, sample: int = 500
) -> list[tuple[str, int]]:
    counter: Counter[str] = Counter()
    for keywords in (
        Mention.objects.filter(topic_links__topic=topic, topic_links__minute__gte=since)
        .order_by("-posted_at")
        .values_list("keywords", flat=True)[:sample]
    ):
        for word in keywords or []:
            if isinstance(word, str) and word:
                counter[word] += 1
    return counter.most_common(limit)


def preview_mentions(*, limit: int = 200) -> list[Mention]:
    return list(Mention.objects.order_by("-posted_at", "-pk")[:limit])


def charts_for(
    *, topic_ids: list[int], since: datetime, until: datetime | None = None, title: str = ""
) -> dict[str, Any]:
    """The three SVG charts (volume, negative share, reach by platform)."""
    from django.utils.translation import gettext as _

    from monitoring import charts
    from monitoring.models import PLATFORM_CHOICES

    labels = {code: str(label) for code, label in PLATFORM_CHOICES}
    data = topic_series(topic_ids=topic_ids, since=since, until=until)
    span = ((until or timezone.now()) - since).total_seconds()
    volume, share, reach = [], [], []
    for platform, rows in sorted(data.items()):
        label = labels.get(platform, platform)
        points_v = [(m, float(v)) for m, v, _n, _r in rows]
        points_r = [(m, float(r)) for m, _v, _n, r in rows]
        if span > 6 * 3600:
            points_v = charts.resample(points_v, timedelta(hours=1))
            points_r = charts.resample(points_r, timedelta(hours=1))
        volume.append(charts.Series(label, points_v, key=platform))
        reach.append(charts.Series(label, points_r, key=platform))
    totals: dict[datetime, list[int]] = {}
    for rows in data.values():
        for m, v, n, _r in rows:
            t = totals.setdefault(m, [0, 0])
            t[0] += v
            t[1] += n
    share_points = [(m, t[1] / t[0]) for m, t in sorted(totals.items()) if t[0]]
    share.append(charts.Series(_("All platforms"), share_points))
    empty = _("No data")
    return {
        "volume": charts.line_chart(
            volume, title=_("Volume"), y_label=_("Posts"), empty_text=empty
        ),
        "share": charts.line_chart(
            share,
            title=_("Negative share"),
            y_label=_("Share"),
            y_format=charts.format_percent,
            y_max=1.0,
            empty_text=empty,
        ),
        "reach": charts.line_chart(
            reach, title=_("Reach"), y_label=_("Followers"), empty_text=empty
        ),
    }


# --- rule hints, the term library, an incident's mentions, training examples ----------------


def topic_rule_hints(*, topic: Topic, limit: int = 10) -> list[Alert]:
    """Dismissed alerts of the topic with their reasons: hints for tightening the rule."""
    return list(
        Alert.objects.filter(topic=topic, status=Alert.Status.DISMISSED)
        .select_related("dismissed_by")
        .order_by("-dismissed_at")[:limit]
    )


def terms_csv() -> bytes:
    """The sensitive-term library as the CSV that ``services.terms_import`` reads."""
    return write_terms_csv(
        SensitiveTermRow(t.term, t.category, t.weight) for t in SensitiveTerm.objects.all()
    )


def incident_mentions(*, incident: Incident) -> QuerySet[Mention]:
    """The mentions of an incident: its alerts' evidence and every mention of its topics
    from an hour before detection on (a QuerySet)."""
    topic_ids = list(
        Alert.objects.filter(incident=incident).values_list("topic_id", flat=True).distinct()
    )
    since = incident.detected_at - timedelta(hours=1)
    return Mention.objects.filter(
        Q(alerts__incident=incident)
        | Q(topic_links__topic_id__in=topic_ids, topic_links__minute__gte=since)
    ).distinct()


def correction_examples() -> list[tuple[str, int]]:
    """Labelled examples from analysts' polarity corrections, for train_sentiment: the latest
    correction of each mention that says positive (1) or negative (0)."""
    seen: set[int] = set()
    examples: list[tuple[str, int]] = []
    rows = (
        SentimentCorrection.objects.exclude(polarity="")
        .order_by("mention_id", "-created_at", "-pk")
        .values_list("mention_id", "text", "polarity")
    )
    for mention_id, text, polarity in rows:
        if mention_id in seen:
            continue
        seen.add(mention_id)
        label = {Polarity.POSITIVE.value: 1, Polarity.NEGATIVE.value: 0}.get(polarity)
        if label is not None:
            examples.append((text, label))
    return examples
