"""The rollup on ingest: new and changed mentions matched, linked and counted per minute.

``mentions_store`` calls ``topics_rollup`` inside its chunk transaction with the ids of the
mentions it created or changed. They are matched against every enabled topic and the
sensitive-term library; the (mention, topic) links that did not exist yet are inserted, and
only those are added to the per-minute ``TopicBucket`` rows by an ``INSERT ... ON CONFLICT
DO UPDATE`` increment, so a re-delivered mention is never counted twice. The per-mention
rules (high-reach negative post, sensitive-term hit) and the per-cluster rule (coordinated
posting) run on the new links; ``rollup_after_commit`` raises their alerts and enqueues
detection of the touched topics once the store's transaction has committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Q

from crisis.enqueue import send_on_commit
from monitoring.detection import MentionFacts, Signal, check_cluster, check_mention
from monitoring.models import Mention, MentionTopic, Polarity, TopicBucket
from monitoring.services.alerts import alerts_raise_batch
from monitoring.services.thresholds import alert_max_age, detection_config
from monitoring.services.topics import Compiled, compiled_rules


@dataclass
class PendingSignal:
    topic_id: int
    signal: Signal
    evidence: list[int]


@dataclass
class RollupResult:
    linked: int = 0
    topic_ids: set[int] = field(default_factory=set)
    signals: list[PendingSignal] = field(default_factory=list)


def _bucket_minute(posted_at: datetime, now: datetime) -> datetime:
    moment = min(posted_at, now)
    return moment.replace(second=0, microsecond=0)


_MENTION_FIELDS = (
    "pk",
    "platform",
    "external_id",
    "text",
    "author_name",
    "location",
    "posted_at",
    "polarity",
    "author_followers",
    "author_verified",
    "views",
    "reposts",
    "comments",
    "likes",
    "cluster_id",
)


def topics_rollup(
    *,
    mention_ids: Sequence[int] = (),
    created_keys: Iterable[tuple[str, str]] = (),
    now: datetime,
    detect: bool = True,
) -> RollupResult:
    """Match new/changed mentions against the topics, link them, add the links that are new
    to the minute buckets, and collect the per-mention and per-cluster signals.

    Runs inside the caller's store transaction (under its advisory lock on PostgreSQL), so a
    crash loses links and counts together. A constant number of queries whatever the size.
    """
    result = RollupResult()
    keys = set(created_keys)
    if not mention_ids and not keys:
        return result
    rules = compiled_rules()
    if rules.matcher is None:  # no enabled topic: one query, nothing else
        return result
    where = Q(pk__in=list(mention_ids))
    if keys:
        where |= Q(platform__in={p for p, _e in keys}, external_id__in={e for _p, e in keys})
    rows = [
        r
        for r in Mention.objects.filter(where).values(*_MENTION_FIELDS)
        if r["pk"] in set(mention_ids) or (r["platform"], r["external_id"]) in keys
    ]
    matched: list[tuple[dict[str, Any], list[int]]] = []
    for row in rows:
        ids = rules.matcher.match(
            row["text"] or "",
            platform=row["platform"],
            author=row["author_name"] or None,
            location=row["location"] or None,
        )
        if ids:
            matched.append((row, [int(i) for i in ids]))
    if not matched:
        return result
    existing = set(
        MentionTopic.objects.filter(mention_id__in=[r["pk"] for r, _ids in matched]).values_list(
            "mention_id", "topic_id"
        )
    )
    links: list[MentionTopic] = []
    scans: dict[int, Any] = {}
    for row, topic_ids in matched:
        fresh = [tid for tid in topic_ids if (row["pk"], tid) not in existing]
        if not fresh:
            continue
        scan = rules.terms.scan(row["text"] or "")
        scans[row["pk"]] = (row, scan)
        reach = int(row["author_followers"] or row["views"] or 0)
        for tid in fresh:
            links.append(
                MentionTopic(
                    mention_id=row["pk"],
                    topic_id=tid,
                    minute=_bucket_minute(row["posted_at"], now),
                    negative=row["polarity"] == Polarity.NEGATIVE,
                    reach=reach,
                    sensitive_weight=scan.score,
                    sensitive_terms=[h.term for h in scan.hits][:20],
                    linked_at=now,
                )
            )
    if not links:
        return result
    MentionTopic.objects.bulk_create(links, ignore_conflicts=True)
    result.linked = len(links)

    # Distinct accounts per near-duplicate cluster over the coordinated-posting window:
    # one grouped read over the clusters of this batch only (indexed by cluster_id).
    window = max((c.coordinated.window_minutes for c in rules.configs.values()), default=30)
    cluster_ids = {scans[link.mention_id][0]["cluster_id"] for link in links} - {None}
    accounts: dict[int, int] = {}
    if cluster_ids:
        accounts = dict(
            Mention.objects.filter(
                cluster_id__in=cluster_ids, posted_at__gte=now - timedelta(minutes=window)
            )
            .values("cluster_id")
            .annotate(n=Count("author_name", distinct=True))
            .values_list("cluster_id", "n")
        )

    buckets: dict[tuple[int, datetime, str], list[int]] = {}
    for link in links:
        row, _scan = scans[link.mention_id]
        key = (link.topic_id, link.minute, row["platform"])
        b = buckets.setdefault(key, [0, 0, 0, 0, 0, 0])
        engagement = sum(int(row[k] or 0) for k in ("reposts", "comments", "likes"))
        b[0] += 1
        b[1] += int(link.negative)
        b[2] += link.reach
        b[3] += link.reach if link.negative else 0
        b[4] += engagement
        b[5] = max(b[5], accounts.get(row["cluster_id"], 0) if row["cluster_id"] else 0)
    _upsert_buckets(buckets)
    result.topic_ids = {link.topic_id for link in links}

    if detect:
        result.signals = _rule_signals(links, scans, accounts, rules, now)
    return result


def _upsert_buckets(buckets: dict[tuple[int, datetime, str], list[int]]) -> None:
    if not buckets:
        return
    table = TopicBucket._meta.db_table
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    placeholders = ",".join(["(%s,%s,%s,%s,%s,%s,%s,%s,%s)"] * len(buckets))
    params: list[Any] = []
    for (topic_id, minute, platform), v in sorted(
        buckets.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])
    ):
        params.extend([topic_id, minute, platform, *v])
    # Sorted keys: concurrent upserts lock rows in the same order (no deadlock). Table and
    # column names are ours; every value is a parameter.
    sql = (
        f"INSERT INTO {table} (topic_id, minute, platform, volume, negative, reach, "  # noqa: S608
        f"negative_reach, engagement, max_cluster) VALUES {placeholders} "
        "ON CONFLICT (topic_id, minute, platform) DO UPDATE SET "
        f"volume = {table}.volume + excluded.volume, "
        f"negative = {table}.negative + excluded.negative, "
        f"reach = {table}.reach + excluded.reach, "
        f"negative_reach = {table}.negative_reach + excluded.negative_reach, "
        f"engagement = {table}.engagement + excluded.engagement, "
        f"max_cluster = {greatest}({table}.max_cluster, excluded.max_cluster)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _rule_signals(
    links: list[MentionTopic],
    scans: dict[int, Any],
    accounts: dict[int, int],
    rules: Compiled,
    now: datetime,
) -> list[PendingSignal]:
    """High-reach negative, sensitive-term and coordinated-posting signals of new links."""
    out: list[PendingSignal] = []
    oldest = now - alert_max_age()
    clusters_done: set[tuple[int, int]] = set()
    for link in links:
        row, scan = scans[link.mention_id]
        if row["posted_at"] < oldest:
            continue
        config = rules.configs.get(link.topic_id) or detection_config(None)
        facts = MentionFacts(
            polarity=row["polarity"] or "",
            followers=row["author_followers"],
            verified=bool(row["author_verified"]),
            sensitive_weight=float(scan.score),
            sensitive_terms=tuple(h.term for h in scan.hits),
            engagement=sum(int(row[k] or 0) for k in ("reposts", "comments", "likes")),
            mention_key=f"{row['platform']}:{row['external_id']}",
            author_name=row["author_name"] or "",
            posted_at=row["posted_at"],
        )
        for signal in check_mention(facts, config):
            out.append(PendingSignal(link.topic_id, signal, [link.mention_id]))
        cluster_id = row["cluster_id"]
        if cluster_id and (link.topic_id, cluster_id) not in clusters_done:
            clusters_done.add((link.topic_id, cluster_id))
            n = accounts.get(cluster_id, 0)
            found = check_cluster(
                n,
                config.coordinated.window_minutes,
                config,
                cluster_key=str(cluster_id),
                at=row["posted_at"],
            )
            for signal in found:
                evidence = list(
                    Mention.objects.filter(cluster_id=cluster_id)
                    .order_by("-posted_at")
                    .values_list("pk", flat=True)[:20]
                )
                out.append(PendingSignal(link.topic_id, signal, evidence))
    return out


def rollup_after_commit(result: RollupResult) -> None:
    """Raise the collected signals (as one batch: see alerts_raise_batch) and enqueue
    detection of the touched topics. Called by mentions_store once its transaction
    committed (alerting never blocks the store)."""
    alerts_raise_batch(signals=[(p.topic_id, p.signal, p.evidence) for p in result.signals])
    if result.topic_ids:
        send_on_commit("monitoring.topics_detect", sorted(result.topic_ids))
