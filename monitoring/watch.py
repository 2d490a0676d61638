"""Watch topics, the sensitive-term library, rollups, detection, alerts and their incidents.

Every write of issue 5 goes through a function here (``monitoring.services`` keeps the
ingest pipeline and calls ``topics_rollup`` from its store transaction). The flow:

1. ``mentions_store`` (services) stores a chunk and, in the same transaction, calls
   ``topics_rollup`` with the ids of the new and changed mentions. They are matched against
   every enabled topic (one cached ``TopicMatcher`` per process, rebuilt when a topic
   changes) and the sensitive-term library; the (mention, topic) links that did not exist
   yet are inserted and only those are added to the per-minute ``TopicBucket`` rows, by an
   ``INSERT ... ON CONFLICT DO UPDATE`` increment. A re-delivered mention has its link
   already, so it is never counted twice. The per-mention rules (high-reach negative post,
   sensitive-term hit) and the per-cluster rule (coordinated posting) run on the new links.
2. After the commit the signals of those rules are raised (``alert_raise``) and the touched
   topics are enqueued for ``topic_detect``, which judges the closed minutes and the minute
   in progress against the topic's baseline (``monitoring.detection``).
3. ``alert_raise`` upserts the alert on its fingerprint (a repeat only counts); a new alert
   attaches to the open incident of its topic or opens one through ``crisis.services``;
   ``incident_refresh_signals`` recomputes the incident's signals so severity escalates.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crisis.enqueue import send_on_commit
from crisis.models import OPEN_STATUSES, Incident
from monitoring.detection import (
    Bucket,
    DetectionConfig,
    MentionFacts,
    Signal,
    SignalKind,
    advance_to,
    check_cluster,
    check_mention,
    evaluate_bucket,
    evaluate_partial,
)
from monitoring.detection import DetectorState as DetectorStateValue
from monitoring.models import (
    Alert,
    AlertKind,
    DetectorState,
    Mention,
    MentionTopic,
    Polarity,
    SensitiveTerm,
    Source,
    Topic,
    TopicBucket,
)
from monitoring.rules import (
    SensitiveTermMatcher,
    SensitiveTermRow,
    TopicMatcher,
    TopicSpec,
    parse_query,
    read_terms_csv,
    terms_of,
    write_terms_csv,
)

logger = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
# Evidence kept on one alert: enough to judge it, bounded however long it repeats.
MAX_EVIDENCE = 50


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def alert_max_age() -> timedelta:
    """Posts older than this raise no alert: a backfill of last month must not page anyone."""
    return timedelta(minutes=float(_setting("MONITORING_ALERT_MAX_AGE_MINUTES", 60)))


def detection_grace() -> timedelta:
    """A minute is closed this long after it ends, so posts stored late still count in its
    bucket (and are judged, as part of a minute in progress) before the baseline learns it.

    Polled sources deliver a minute's posts up to one poll interval late: a burst posted in
    the last seconds of a minute reaches the inbox after that minute would otherwise have
    closed, and would never be judged. So the grace covers the longest enabled poll interval,
    capped at MONITORING_MAX_CLOSE_GRACE_SECONDS (default 15 min).
    """
    base = float(_setting("MONITORING_CLOSE_GRACE_SECONDS", 5))
    longest = (
        Source.objects.filter(
            enabled=True, kind__in=[Source.Kind.FEED, Source.Kind.JSON_API]
        ).aggregate(longest=Max("interval_seconds"))["longest"]
        or 0
    )
    cap = float(_setting("MONITORING_MAX_CLOSE_GRACE_SECONDS", 900))
    return timedelta(seconds=min(base + longest, max(cap, base)))


# Monitoring's own defaults over monitoring.detection's: the term library weighs terms 1-10
# (10 = act now), where the detector's default threshold of 3 assumed 1-3, so a single 投诉
# (weight 4) would alert. 8 = one severe term (查封, 食物中毒) or two moderate ones.
DEFAULT_OVERRIDES: dict[str, Any] = {"sensitive": {"weight_threshold": 8.0}}


def detection_config(thresholds: dict[str, Any] | None) -> DetectionConfig:
    """The defaults, the project's overrides (MONITORING_DETECTION_DEFAULTS), the topic's."""
    base = DetectionConfig.from_dict(
        _merge(DEFAULT_OVERRIDES, _setting("MONITORING_DETECTION_DEFAULTS", {}) or {})
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


# --- the compiled matcher, cached per process ------------------------------------------------


@dataclass
class Compiled:
    token: tuple[Any, ...]
    matcher: TopicMatcher | None
    terms: SensitiveTermMatcher
    configs: dict[int, DetectionConfig] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)


_cache: dict[str, Compiled] = {}
_cache_lock = threading.Lock()


def _version_token() -> tuple[Any, ...]:
    """One query: what changes whenever a topic or a term is added, edited or deleted."""
    topics, terms = Topic._meta.db_table, SensitiveTerm._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(updated_at) FROM {topics}), (SELECT COUNT(*) FROM {topics}), "  # noqa: S608
            f"(SELECT MAX(updated_at) FROM {terms}), (SELECT COUNT(*) FROM {terms})"
        )
        return tuple(cursor.fetchone() or ())


def compiled_rules() -> Compiled:
    """The matcher of every enabled topic and the term library. Two aggregate queries check
    the version; the automatons are rebuilt only when a topic or a term changed."""
    token = _version_token()
    current = _cache.get("rules")
    if current is not None and current.token == token:
        return current
    with _cache_lock:
        current = _cache.get("rules")
        if current is not None and current.token == token:
            return current
        topics = list(Topic.objects.filter(enabled=True))
        specs = [
            TopicSpec(
                id=t.pk,
                query=t.query,
                exclusions=t.exclusions or None,
                platforms=frozenset(t.platforms) or None,
            )
            for t in topics
        ]
        matcher = TopicMatcher.build(specs, skip_invalid=True) if specs else None
        terms = SensitiveTermMatcher(
            SensitiveTermRow(term, category, weight)
            for term, category, weight in SensitiveTerm.objects.values_list(
                "term", "category", "weight"
            )
        )
        configs: dict[int, DetectionConfig] = {}
        for t in topics:
            try:
                configs[t.pk] = detection_config(t.thresholds)
            except ValueError:
                logger.warning("topic %s has invalid thresholds; using the defaults", t.pk)
                configs[t.pk] = detection_config(None)
        compiled = Compiled(
            token=token,
            matcher=matcher,
            terms=terms,
            configs=configs,
            names={t.pk: t.name for t in topics},
        )
        _cache["rules"] = compiled
        _feed_user_dictionary(topics)
        return compiled


def _feed_user_dictionary(topics: Sequence[Topic]) -> None:
    """Watch terms and sensitive terms go to jieba's user dictionary, so keywords and the
    sentiment model see 茶小满 as one word."""
    try:
        from monitoring import nlp
    except ImportError:  # pragma: no cover
        return
    add = getattr(nlp, "add_user_terms", None)
    if add is None:
        return
    words: set[str] = set(SensitiveTerm.objects.values_list("term", flat=True))
    for topic in topics:
        for text in (topic.query, topic.exclusions):
            if not text:
                continue
            try:
                words.update(terms_of(parse_query(text)))
            except Exception:  # noqa: BLE001, S112 - a broken rule adds no words
                continue
    try:
        add(sorted(w for w in words if 1 < len(w) <= 30))
    except Exception:
        logger.exception("could not feed the user dictionary")


# --- topics ----------------------------------------------------------------------------------


def topic_validate(
    *, query: str, exclusions: str = "", thresholds: dict[str, Any] | None = None
) -> None:
    """Raises QuerySyntaxError (query or exclusions) or ValueError (thresholds)."""
    parse_query(query)
    if exclusions.strip():
        parse_query(exclusions)
    detection_config(thresholds or {})


def topic_create(
    *,
    name: str,
    query: str,
    exclusions: str = "",
    platforms: Iterable[str] = (),
    thresholds: dict[str, Any] | None = None,
    description: str = "",
    enabled: bool = True,
    actor: User | None = None,
) -> Topic:
    topic_validate(query=query, exclusions=exclusions, thresholds=thresholds)
    return Topic.objects.create(
        name=name.strip()[:120],
        description=description[:500],
        query=query.strip(),
        exclusions=exclusions.strip(),
        platforms=sorted(set(platforms)),
        thresholds=thresholds or {},
        enabled=enabled,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )


def topic_update(
    *,
    topic: Topic,
    name: str,
    query: str,
    exclusions: str = "",
    platforms: Iterable[str] = (),
    thresholds: dict[str, Any] | None = None,
    description: str = "",
    enabled: bool = True,
) -> Topic:
    """Save the rule; updated_at moves, so every process rebuilds its matcher on its next
    batch. Mentions already stored are not re-matched (the rule applies from now on)."""
    topic_validate(query=query, exclusions=exclusions, thresholds=thresholds)
    topic.name = name.strip()[:120]
    topic.description = description[:500]
    topic.query = query.strip()
    topic.exclusions = exclusions.strip()
    topic.platforms = sorted(set(platforms))
    topic.thresholds = thresholds or {}
    topic.enabled = enabled
    topic.save()
    return topic


# --- sensitive-term library ------------------------------------------------------------------


@dataclass
class TermsImport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def terms_import(*, data: bytes, replace: bool = False) -> TermsImport:
    """Upsert the terms of a CSV (monitoring.rules.read_terms_csv); bad rows are reported
    and skipped. ``replace`` deletes the terms the file does not list (only when the file
    had no errors, so a half-broken file cannot wipe the library)."""
    rows, errors = read_terms_csv(data)
    result = TermsImport(errors=list(errors))
    with transaction.atomic():
        existing = {t.term: t for t in SensitiveTerm.objects.select_for_update()}
        to_create, to_update = [], []
        for row in rows:
            current = existing.get(row.term)
            if current is None:
                to_create.append(
                    SensitiveTerm(term=row.term, category=row.category, weight=row.weight)
                )
            elif (current.category, current.weight) != (row.category, row.weight):
                current.category, current.weight = row.category, row.weight
                to_update.append(current)
            else:
                result.unchanged += 1
        SensitiveTerm.objects.bulk_create(to_create)
        now = timezone.now()
        for term in to_update:
            term.updated_at = now
        SensitiveTerm.objects.bulk_update(to_update, ["category", "weight", "updated_at"])
        result.created, result.updated = len(to_create), len(to_update)
        if replace and not errors and rows:
            keep = {row.term for row in rows}
            SensitiveTerm.objects.exclude(term__in=keep).delete()
    return result


def terms_export() -> bytes:
    return write_terms_csv(
        SensitiveTermRow(t.term, t.category, t.weight) for t in SensitiveTerm.objects.all()
    )


def term_save(*, term: str, category: str, weight: int) -> SensitiveTerm:
    """Add or change one term (folded like the CSV import)."""
    header = "term,category,weight\n"
    rows, errors = read_terms_csv((header + _csv_line(term, category, weight)).encode("utf-8"))
    if errors or not rows:
        raise ValueError(errors[0][1] if errors else "empty term")
    row = rows[0]
    obj, _created = SensitiveTerm.objects.update_or_create(
        term=row.term, defaults={"category": row.category, "weight": row.weight}
    )
    return obj


def _csv_line(*values: object) -> str:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def term_delete(*, term_id: int) -> None:
    SensitiveTerm.objects.filter(pk=term_id).delete()


# --- rollup on ingest ------------------------------------------------------------------------


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
    """Raise the collected signals and enqueue detection of the touched topics. Called by
    mentions_store once its transaction committed (alerting never blocks the store).

    A batch often carries the same signal many times (every post of a burst hits the
    sensitive-term alert of its topic and hour): they are raised as one repeat of that
    alert, and each incident's signals are recomputed once per batch, not once per post.
    """
    groups: dict[tuple[int, str], list[PendingSignal]] = {}
    for pending in result.signals:
        groups.setdefault((pending.topic_id, pending.signal.fingerprint), []).append(pending)
    touched: set[int] = set()
    for (topic_id, _fingerprint), group in groups.items():
        signal = group[-1].signal
        metrics: Any = _jsonable(group[0].signal.metrics)
        for pending in group[1:]:
            metrics = _merged_metrics(str(signal.kind), metrics, _jsonable(pending.signal.metrics))
        evidence = list(dict.fromkeys(pk for pending in group for pk in pending.evidence))
        try:
            alert, _created = alert_raise(
                topic_id=topic_id,
                signal=replace(signal, metrics=metrics, score=max(p.signal.score for p in group)),
                evidence_ids=evidence,
                occurrences=len(group),
                refresh_incident=False,
            )
        except Exception:
            logger.exception("raising a %s alert for topic %s failed", signal.kind, topic_id)
            continue
        if alert.incident_id and alert.status != Alert.Status.DISMISSED:
            touched.add(alert.incident_id)
    for incident_id in sorted(touched):
        try:
            incident_refresh_signals(incident_id=incident_id)
        except Exception:
            logger.exception("refreshing the signals of incident %s failed", incident_id)
    if result.topic_ids:
        send_on_commit("monitoring.topics_detect", sorted(result.topic_ids))


# --- detection -------------------------------------------------------------------------------


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
        warm_from = now - timedelta(hours=float(_setting("MONITORING_WARMUP_HOURS", 6)))
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


# --- alerts ----------------------------------------------------------------------------------


def alert_raise(
    *,
    topic_id: int,
    signal: Signal,
    evidence_ids: Sequence[int] = (),
    now: datetime | None = None,
    occurrences: int = 1,
    refresh_incident: bool = True,
) -> tuple[Alert, bool]:
    """Create the alert of ``signal`` or, when one with its fingerprint exists, count the
    repeat (count + ``occurrences``, last_seen, score and metrics of the latest). A new
    alert is routed to an incident. With ``refresh_incident`` off, the caller recomputes the
    incident's signals itself (once for a whole batch). Returns (alert, created)."""
    now = now or timezone.now()
    fingerprint = f"{topic_id}:{signal.fingerprint}"[:200]
    kind = str(signal.kind)
    if kind not in AlertKind.values:
        raise ValueError(f"unknown alert kind {kind!r}")
    created = False
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(fingerprint=fingerprint).first()
        if alert is None:
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        topic_id=topic_id,
                        kind=kind,
                        fingerprint=fingerprint,
                        score=float(signal.score),
                        reason=signal.reason[:2000],
                        metrics=_jsonable(signal.metrics),
                        count=max(1, occurrences),
                        first_seen_at=now,
                        last_seen_at=now,
                        updated_at=now,
                    )
                created = True
            except IntegrityError:  # another worker created it a moment ago
                alert = Alert.objects.select_for_update().get(fingerprint=fingerprint)
        if not created:
            metrics = _merged_metrics(kind, alert.metrics, _jsonable(signal.metrics))
            Alert.objects.filter(pk=alert.pk).update(
                count=F("count") + max(1, occurrences),
                last_seen_at=now,
                updated_at=now,
                score=max(alert.score, float(signal.score)),
                metrics=metrics,
                reason=signal.reason[:2000],
            )
        have = alert.evidence.count() if not created else 0
        room = MAX_EVIDENCE - have
        if evidence_ids and room > 0:
            alert.evidence.add(*list(evidence_ids)[:room])
    alert.refresh_from_db()
    if created:
        alert_route(alert=alert, now=now, refresh_incident=refresh_incident)
    elif refresh_incident and alert.incident_id and alert.status != Alert.Status.DISMISSED:
        incident_refresh_signals(incident_id=alert.incident_id, now=now)
    return alert, created


# How many sensitive terms an hour's alert lists (the alert page shows them all).
MAX_ALERT_TERMS = 30


def _merged_metrics(kind: str, old: Any, new: Any) -> Any:
    """The metrics a repeated alert keeps: the latest, except that a sensitive-term alert
    (one per topic and hour) lists every term seen in that hour, at its highest weight."""
    if kind != AlertKind.SENSITIVE_TERM or not isinstance(old, dict) or not isinstance(new, dict):
        return new
    terms = [str(t) for t in [*old.get("terms", []), *new.get("terms", [])]]
    merged = dict(new)
    merged["terms"] = sorted(set(terms))[:MAX_ALERT_TERMS]
    weights = [w for w in (old.get("weight"), new.get("weight")) if isinstance(w, int | float)]
    if weights:
        merged["weight"] = max(weights)
    return merged


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def topic_open_incident(*, topic_id: int) -> Incident | None:
    """The open incident that alerts of this topic already belong to (the newest)."""
    return (
        Incident.objects.filter(monitoring_alerts__topic_id=topic_id, status__in=OPEN_STATUSES)
        .order_by("-detected_at", "-pk")
        .first()
    )


def open_incident_sharing_evidence(*, alert: Alert) -> Incident | None:
    """The open incident (the newest) that already holds an alert with one of this alert's
    evidence posts: overlapping topics (the brand, and food safety) see the same crisis
    through the same posts, and it should be one incident, not one per topic."""
    posts = alert.evidence.values("pk")
    return (
        Incident.objects.filter(
            status__in=OPEN_STATUSES, monitoring_alerts__evidence__in=Subquery(posts)
        )
        .order_by("-detected_at", "-pk")
        .first()
    )


def alert_route(
    *, alert: Alert, now: datetime | None = None, refresh_incident: bool = True
) -> Incident | None:
    """Attach a new alert to its topic's open incident, else to an open incident that holds
    one of its evidence posts, or open one. The topic row is locked so two alerts of one topic
    arriving together open one incident, not two."""
    now = now or timezone.now()
    from crisis import services as crisis_services

    opened = False
    with transaction.atomic():
        topic = Topic.objects.select_for_update().get(pk=alert.topic_id)
        current = Alert.objects.filter(pk=alert.pk).values_list("incident_id", "status").first()
        if current is None or current[0] is not None or current[1] == Alert.Status.DISMISSED:
            return None
        incident = topic_open_incident(topic_id=topic.pk) or open_incident_sharing_evidence(
            alert=alert
        )
        if incident is not None:
            Alert.objects.filter(pk=alert.pk, incident__isnull=True).update(
                incident=incident, updated_at=now
            )
            crisis_services.timeline_add(
                incident=incident,
                kind="alert_attached",
                reason=alert.reason[:500],
                data={"alert": alert.pk, "kind": alert.kind, "topic": topic.pk},
                now=now,
            )
        else:
            incident = _incident_open_from(alert=alert, topic=topic, actor=None, now=now)
            opened = True
    alert.incident_id = incident.pk
    if not opened and refresh_incident:
        incident_refresh_signals(incident_id=incident.pk, now=now)
    return incident


def _evidence_facts(alert: Alert) -> tuple[str | None, datetime | None]:
    """The majority crisis type of the evidence and its earliest stored time."""
    rows = list(alert.evidence.values_list("crisis_type", "received_at"))
    types = Counter(t for t, _at in rows if t)
    crisis_type = types.most_common(1)[0][0] if types else None
    detected = min((at for _t, at in rows), default=None)
    return crisis_type, detected


def _incident_open_from(
    *, alert: Alert, topic: Topic, actor: User | None, now: datetime
) -> Incident:
    from crisis import services as crisis_services

    crisis_type, detected_at = _evidence_facts(alert)
    detected_at = min(detected_at or alert.first_seen_at, now)
    title = _("%(topic)s: %(kind)s") % {"topic": topic.name, "kind": AlertKind(alert.kind).label}
    signals = topic_signals(topic_ids=[topic.pk], since=detected_at, now=now)
    incident = crisis_services.incident_open(
        title=title,
        summary=alert.reason,
        crisis_type=crisis_type,
        detected_at=detected_at,
        reporter=actor,
        source="alert",
        signals=signals,
        now=now,
    )
    Alert.objects.filter(pk=alert.pk).update(incident=incident, updated_at=now)
    return incident


# --- incident signals and escalation ---------------------------------------------------------

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
    from crisis import services as crisis_services

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


# --- the alert queue's actions ---------------------------------------------------------------


class AlertActionError(Exception):
    """A refusal with a message for the user."""


def alert_acknowledge(*, alert: Alert, actor: User, now: datetime | None = None) -> Alert:
    now = now or timezone.now()
    changed = Alert.objects.filter(pk=alert.pk, status=Alert.Status.NEW).update(
        status=Alert.Status.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=actor, updated_at=now
    )
    if not changed:
        raise AlertActionError(_("This alert was already handled."))
    alert.refresh_from_db()
    return alert


def alert_dismiss(*, alert: Alert, actor: User, reason: str, now: datetime | None = None) -> Alert:
    """A false positive: the reason is kept and shown on the topic editor as a rule hint."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise AlertActionError(_("Say why this alert is a false positive."))
    changed = Alert.objects.filter(
        pk=alert.pk, status__in=[Alert.Status.NEW, Alert.Status.ACKNOWLEDGED]
    ).update(
        status=Alert.Status.DISMISSED,
        dismissed_at=now,
        dismissed_by=actor,
        dismiss_reason=reason[:2000],
        updated_at=now,
    )
    if not changed:
        raise AlertActionError(_("This alert was already dismissed."))
    alert.refresh_from_db()
    return alert


def alert_attach(
    *, alert: Alert, incident: Incident, actor: User, now: datetime | None = None
) -> Alert:
    """Attach the alert to another (open) incident."""
    from crisis import services as crisis_services

    now = now or timezone.now()
    if incident.status not in OPEN_STATUSES:
        raise AlertActionError(_("Incident #%(id)s is closed.") % {"id": incident.pk})
    if alert.incident_id == incident.pk:
        return alert
    with transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(incident=incident, updated_at=now)
        crisis_services.timeline_add(
            incident=incident,
            kind="alert_attached",
            actor=actor,
            reason=alert.reason[:500],
            data={"alert": alert.pk, "kind": alert.kind, "topic": alert.topic_id},
            now=now,
        )
    alert.refresh_from_db()
    incident_refresh_signals(incident_id=incident.pk, now=now)
    return alert


def alert_open_incident(*, alert: Alert, actor: User, now: datetime | None = None) -> Incident:
    """Open a new incident from this alert (even when its topic has one open)."""
    now = now or timezone.now()
    with transaction.atomic():
        topic = Topic.objects.select_for_update().get(pk=alert.topic_id)
        incident = _incident_open_from(alert=alert, topic=topic, actor=actor, now=now)
    alert.refresh_from_db()
    return incident


def topic_rule_hints(*, topic: Topic, limit: int = 10) -> list[Alert]:
    """Dismissed alerts of the topic with their reasons: hints for tightening the rule."""
    return list(
        Alert.objects.filter(topic=topic, status=Alert.Status.DISMISSED)
        .select_related("dismissed_by")
        .order_by("-dismissed_at")[:limit]
    )


# --- propagation -----------------------------------------------------------------------------

# Mentions read to build one incident's repost tree; the biggest audiences first.
PROPAGATION_MAX_POSTS = 5000


def incident_mentions(*, incident: Incident) -> Any:
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


def incident_propagation_refresh(*, incident_id: int) -> Any:
    """Build the repost tree of the incident's mentions (parent/root ids and ``//@`` chains,
    monitoring.propagation) and store its summary for the incident page and post-mortem."""
    from monitoring.ingest import parse_repost_chain
    from monitoring.models import IncidentPropagation
    from monitoring.propagation import PostNode, summarize

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
