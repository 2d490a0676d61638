"""Every write of monitoring: sources and their health, the inbox, mentions, corrections.

The ingest pipeline, in order:

1. ``inbox_receive`` stores the payload bytes as a RawItem (status pending) and commits,
   before anything else happens to them (a dead worker or broker then loses nothing).
2. ``inbox_process`` claims the row with a conditional UPDATE (a lease: token +
   ``claimed_at``), parses it, and stores the items chunk by chunk through
   ``mentions_store``. Each chunk is one transaction; re-running a chunk changes nothing,
   so a worker killed mid-payload and a re-run of the payload are both harmless.
3. ``inbox_requeue_stale`` (beat) re-enqueues rows left pending or whose lease expired.

``mentions_store`` is the bulk path: a constant number of queries per chunk whatever its
size (existing rows, clusters by exact fingerprint, clusters by SimHash band, repost
parents, one insert, one update, one cluster update), analysis in one pass, and an
advisory lock on PostgreSQL so concurrent workers cannot both insert one cluster.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from crisis.enqueue import send_on_commit
from monitoring import watch
from monitoring.ingest import (
    NEAR_DUPLICATE_DISTANCE,
    FetchError,
    IngestError,
    NormalizedItem,
    ParseResult,
    PayloadError,
    fetch_url,
    fingerprint,
    fingerprint_many,
    hamming,
    parse_mapped,
    parse_payload,
    parse_repost_chain,
    text_fingerprint,
)
from monitoring.models import (
    Mention,
    MentionCluster,
    Polarity,
    RawItem,
    SentimentCorrection,
    Source,
    token_digest,
)

logger = logging.getLogger(__name__)

# Any constant: the advisory lock that serialises the write phase of mentions_store.
_STORE_LOCK_KEY = 0x46_48_4D_4F  # "FHMO"
_EMPTY_TEXT_HASH = fingerprint("").exact
_MASK16 = 0xFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def max_body_bytes() -> int:
    return int(_setting("INGEST_MAX_BYTES", 5 * 1024 * 1024))


# --- results --------------------------------------------------------------------------------


@dataclass
class StoreResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: StoreResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass
class ProcessOutcome:
    raw_item_id: int
    status: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates_in_batch: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    @property
    def duplicates(self) -> int:
        """Records that were not new: repeated in the payload or already stored."""
        return self.duplicates_in_batch + self.updated + self.unchanged


# --- sources --------------------------------------------------------------------------------


def source_create(
    *,
    name: str,
    slug: str,
    kind: str,
    platform: str,
    url: str = "",
    mapping: dict[str, Any] | None = None,
    interval_seconds: int = 300,
    signing_secret: str = "",
    enabled: bool = True,
) -> tuple[Source, str | None]:
    """Create a source; a webhook source gets a bearer token, returned once (only its
    digest is stored)."""
    source = Source(
        name=name,
        slug=slug,
        kind=kind,
        platform=platform,
        url=url,
        mapping=mapping or {},
        interval_seconds=interval_seconds,
        signing_secret=signing_secret,
        enabled=enabled,
        next_poll_at=timezone.now(),
    )
    token = None
    if kind == Source.Kind.WEBHOOK:
        token = secrets.token_urlsafe(32)
        source.token_hash = token_digest(token)
    source.full_clean()
    source.save()
    return source, token


def source_rotate_token(*, source: Source) -> str:
    """A new bearer token for a push source; the old one stops working at once."""
    token = secrets.token_urlsafe(32)
    Source.objects.filter(pk=source.pk).update(token_hash=token_digest(token))
    source.token_hash = token_digest(token)
    return token


def source_set_token(*, source: Source, token: str) -> Source:
    """Set a known token (demo data and tests); production uses source_rotate_token."""
    Source.objects.filter(pk=source.pk).update(token_hash=token_digest(token))
    source.token_hash = token_digest(token)
    return source


def source_claim_poll(*, source_id: int, force: bool = False) -> str | None:
    """Take the poll lease of a source: a token, or None when a poll is already running
    (or, unless ``force``, when the source is not due). At most one poll per source."""
    now = timezone.now()
    token = secrets.token_hex(8)
    lease = timedelta(seconds=float(_setting("SOURCE_POLL_LEASE_SECONDS", 300)))
    due = Q() if force else Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
    claimed = Source.objects.filter(
        due,
        Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now),
        pk=source_id,
        enabled=True,
        kind__in=[Source.Kind.FEED, Source.Kind.JSON_API],
    ).update(poll_token=token, poll_lease_until=now + lease)
    return token if claimed else None


def sources_dispatch_due(*, now: datetime | None = None) -> list[tuple[int, str]]:
    """Claim every due polled source; the caller enqueues one poll per (id, token)."""
    now = now or timezone.now()
    due_ids = list(
        Source.objects.filter(
            Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now),
            Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now),
            enabled=True,
            kind__in=[Source.Kind.FEED, Source.Kind.JSON_API],
        ).values_list("pk", flat=True)[:200]
    )
    claimed = []
    for source_id in due_ids:
        token = source_claim_poll(source_id=source_id)
        if token:
            claimed.append((source_id, token))
    return claimed


def source_request_poll(*, source: Source) -> str | None:
    """ "Poll now": claim the lease regardless of the schedule; None if a poll is running."""
    return source_claim_poll(source_id=source.pk, force=True)


def source_poll(*, source_id: int, token: str) -> RawItem | None:
    """Fetch a polled source once, under the lease ``token``; store what came into the inbox.

    Returns the new RawItem (to be processed), or None for a 304, a lost lease or an error
    (the error is recorded on the source's health).
    """
    source = Source.objects.filter(pk=source_id, poll_token=token).first()
    if source is None or not source.enabled:
        return None
    now = timezone.now()
    try:
        result = fetch_url(
            source.url,
            etag=source.etag or None,
            last_modified=source.last_modified or None,
            timeout=float(_setting("SOURCE_FETCH_TIMEOUT", 15.0)),
            max_bytes=max_body_bytes(),
        )
    except FetchError as exc:
        source_record_failure(source=source, token=token, error=str(exc))
        return None
    except Exception as exc:  # a bug or an unexpected network failure: still health
        logger.exception("poll of source %s failed", source.pk)
        source_record_failure(source=source, token=token, error=f"unexpected error: {exc!r}")
        return None
    if result.not_modified:
        source_record_success(
            source=source, token=token, etag=result.etag, last_modified=result.last_modified, at=now
        )
        return None
    is_api = source.kind == Source.Kind.JSON_API
    raw = inbox_receive(
        body=result.body,
        channel=RawItem.Channel.POLL,
        source=source,
        content_type=result.content_type or "",
        fmt="mapping" if is_api else "auto",
        options={"mapping": source.mapping} if is_api else {},
    )
    # A payload that does not parse is a failing poll too: the error belongs on the source.
    try:
        _parse_raw(raw)
    except IngestError as exc:
        inbox_mark_failed(raw_item=raw, error=str(exc))
        source_record_failure(source=source, token=token, error=str(exc))
        return None
    source_record_success(
        source=source, token=token, etag=result.etag, last_modified=result.last_modified, at=now
    )
    inbox_enqueue(raw_item=raw)
    return raw


def source_record_success(
    *,
    source: Source,
    token: str,
    etag: str | None,
    last_modified: str | None,
    at: datetime | None = None,
) -> None:
    now = at or timezone.now()
    Source.objects.filter(pk=source.pk, poll_token=token).update(
        etag=(etag or "")[:500],
        last_modified=(last_modified or "")[:100],
        last_polled_at=now,
        last_success_at=now,
        consecutive_failures=0,
        backoff_until=None,
        failing_since=None,
        paged_at=None,
        next_poll_at=now + timedelta(seconds=source.interval_seconds),
        poll_token="",
        poll_lease_until=None,
    )


def source_backoff_seconds(*, interval_seconds: int, failures: int) -> float:
    """Exponential backoff from the source's interval, capped (SOURCE_MAX_BACKOFF_SECONDS)."""
    cap = float(_setting("SOURCE_MAX_BACKOFF_SECONDS", 3600))
    return float(min(cap, max(interval_seconds, 1) * (2 ** min(failures, 20))))


def source_record_failure(*, source: Source, token: str, error: str) -> int:
    """Record a failed poll: count, back off, and page the managers once per failure streak
    when the count reaches SOURCE_PAGE_AFTER_FAILURES. Returns the failure count."""
    now = timezone.now()
    with transaction.atomic():
        current = Source.objects.select_for_update().filter(pk=source.pk).first()
        if current is None or current.poll_token != token:
            return 0
        failures = current.consecutive_failures + 1
        delay = source_backoff_seconds(interval_seconds=current.interval_seconds, failures=failures)
        Source.objects.filter(pk=source.pk).update(
            consecutive_failures=failures,
            last_error=error[:2000],
            last_error_at=now,
            last_polled_at=now,
            failing_since=current.failing_since or now,
            backoff_until=now + timedelta(seconds=delay),
            next_poll_at=now + timedelta(seconds=delay),
            poll_token="",
            poll_lease_until=None,
        )
        threshold = int(_setting("SOURCE_PAGE_AFTER_FAILURES", 5))
        if failures >= threshold and current.paged_at is None:
            Source.objects.filter(pk=source.pk).update(paged_at=now)
            streak = (current.failing_since or now).isoformat()
            name, slug, url = current.name, current.slug, current.url
            transaction.on_commit(
                lambda: _page_source_failing(
                    source_id=source.pk,
                    name=name,
                    slug=slug,
                    url=url,
                    failures=failures,
                    error=error,
                    streak=streak,
                )
            )
    return failures


def _page_source_failing(
    *, source_id: int, name: str, slug: str, url: str, failures: int, error: str, streak: str
) -> None:
    try:
        from crisis.services import notification_broadcast
    except ImportError:
        logger.error("source %s is failing but crisis.notification_broadcast is missing", slug)
        return
    from django.utils.translation import gettext as _

    notification_broadcast(
        audience_role="manager",
        title=_("Source %(name)s is failing") % {"name": name},
        body=_("%(count)d polls in a row failed. Last error: %(error)s")
        % {"count": failures, "error": error[:500]},
        dedupe_key=f"monitoring:source-failing:{source_id}:{streak}",
        level="warning",
    )


# --- inbox ----------------------------------------------------------------------------------


def inbox_receive(
    *,
    body: bytes,
    channel: str,
    source: Source | None = None,
    content_type: str = "",
    filename: str = "",
    fmt: str = "auto",
    default_platform: str | None = None,
    options: dict[str, Any] | None = None,
    uploaded_by: User | None = None,
) -> RawItem:
    """Store a received payload, untouched, before anything else is done with it."""
    return RawItem.objects.create(
        source=source,
        channel=channel,
        body=bytes(body),
        size=len(body),
        content_type=content_type[:200],
        filename=filename[:255],
        fmt=fmt,
        default_platform=default_platform or (source.platform if source else "other"),
        options=options or {},
        uploaded_by=uploaded_by,
    )


def _parse_raw(raw: RawItem) -> ParseResult:
    body = bytes(raw.body)
    if raw.fmt == "mapping":
        return parse_mapped(
            body, raw.options.get("mapping") or {}, default_platform=raw.default_platform
        )
    return parse_payload(
        body,
        content_type=raw.content_type or None,
        filename=raw.filename or None,
        fmt=raw.fmt,
        default_platform=raw.default_platform,
        max_bytes=max(len(body), 1),
    )


def inbox_parse(*, raw_item: RawItem) -> ParseResult:
    """Parse a stored payload. Raises IngestError (PayloadError, MappingError) for a payload
    that is unusable as a whole; an unexpected parser failure is reported the same way."""
    try:
        return _parse_raw(raw_item)
    except IngestError:
        raise
    except (ValueError, RecursionError, UnicodeError, LookupError) as exc:
        logger.exception("parser failed on inbox payload %s", raw_item.pk)
        raise PayloadError(f"the payload could not be parsed ({type(exc).__name__})") from exc


def inbox_mark_failed(*, raw_item: RawItem, error: str) -> None:
    now = timezone.now()
    RawItem.objects.filter(pk=raw_item.pk).exclude(status=RawItem.Status.DONE).update(
        status=RawItem.Status.FAILED, error=error[:5000], processed_at=now, claim_token=""
    )


def inbox_enqueue(*, raw_item: RawItem) -> None:
    """Process the payload in a worker once the row is committed."""
    send_on_commit("monitoring.inbox_process", raw_item.pk)


def _claim_timeout() -> timedelta:
    return timedelta(seconds=float(_setting("INBOX_CLAIM_TIMEOUT", 120)))


def inbox_claim(*, raw_item_id: int) -> str | None:
    """Claim a pending payload, or one whose previous claim expired (its worker died)."""
    now = timezone.now()
    token = secrets.token_hex(8)
    claimed = (
        RawItem.objects.filter(pk=raw_item_id)
        .filter(
            Q(status=RawItem.Status.PENDING)
            | Q(status=RawItem.Status.PROCESSING, claimed_at__lt=now - _claim_timeout())
        )
        .update(
            status=RawItem.Status.PROCESSING,
            claim_token=token,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
    )
    return token if claimed else None


def inbox_process(*, raw_item_id: int, chunk_size: int | None = None) -> ProcessOutcome | None:
    """Parse and store one inbox payload. None when it is gone, done, or owned by another
    live worker. Idempotent: every chunk is an upsert, so a re-run stores nothing twice."""
    token = inbox_claim(raw_item_id=raw_item_id)
    if token is None:
        return None
    raw = RawItem.objects.select_related("source").get(pk=raw_item_id)
    max_attempts = int(_setting("INBOX_MAX_ATTEMPTS", 5))
    if raw.attempts > max_attempts:
        error = f"gave up after {raw.attempts - 1} attempts that did not finish"
        _finish(raw, token, status=RawItem.Status.FAILED, error=error)
        return ProcessOutcome(raw_item_id=raw.pk, status=RawItem.Status.FAILED, error=error)
    try:
        parsed = inbox_parse(raw_item=raw)
    except IngestError as exc:
        _finish(raw, token, status=RawItem.Status.FAILED, error=str(exc))
        return ProcessOutcome(raw_item_id=raw.pk, status=RawItem.Status.FAILED, error=str(exc))
    rejected = [{"index": r.index, "error": r.error} for r in parsed.rejected]
    size = chunk_size or int(_setting("INBOX_CHUNK_SIZE", 1000))
    totals = StoreResult()
    for start in range(0, len(parsed.items), size):
        chunk = parsed.items[start : start + size]
        totals.add(mentions_store(items=chunk, source_id=raw.source_id, raw_item_id=raw.pk))
        # Renew the lease; if someone else took the payload over, let them finish it.
        alive = RawItem.objects.filter(pk=raw.pk, claim_token=token).update(
            claimed_at=timezone.now()
        )
        if not alive:
            return None
    outcome = ProcessOutcome(
        raw_item_id=raw.pk,
        status=RawItem.Status.DONE,
        created=totals.created,
        updated=totals.updated,
        unchanged=totals.unchanged,
        duplicates_in_batch=parsed.duplicates_in_batch,
        rejected=rejected,
    )
    _finish(raw, token, status=RawItem.Status.DONE, outcome=outcome, parsed_format=parsed.format)
    return outcome


def _finish(
    raw: RawItem,
    token: str,
    *,
    status: str,
    error: str = "",
    outcome: ProcessOutcome | None = None,
    parsed_format: str = "",
) -> None:
    values: dict[str, Any] = {
        "status": status,
        "error": error[:5000],
        "processed_at": timezone.now(),
        "claim_token": "",
    }
    if outcome is not None:
        values.update(
            created_count=outcome.created,
            updated_count=outcome.updated,
            unchanged_count=outcome.unchanged,
            duplicate_count=outcome.duplicates_in_batch,
            rejected=outcome.rejected,
            parsed_format=parsed_format[:32],
        )
    RawItem.objects.filter(pk=raw.pk, claim_token=token).update(**values)


def inbox_requeue_stale(*, older_than_seconds: float | None = None) -> list[int]:
    """Ids of payloads pending for a while (their task was lost with the broker) or whose
    claim expired (their worker died); the caller enqueues them again."""
    now = timezone.now()
    pending_age = timedelta(seconds=older_than_seconds if older_than_seconds is not None else 30)
    return list(
        RawItem.objects.filter(
            Q(status=RawItem.Status.PENDING, received_at__lt=now - pending_age)
            | Q(status=RawItem.Status.PROCESSING, claimed_at__lt=now - _claim_timeout())
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )


def ingest_payload(
    *,
    body: bytes,
    channel: str,
    source: Source | None = None,
    filename: str = "",
    content_type: str = "",
    fmt: str = "auto",
    uploaded_by: User | None = None,
) -> tuple[RawItem, ProcessOutcome]:
    """Receive and process a payload in this process (the ingest command and the upload
    page, which report the result per row). The inbox row is committed first, as for a push."""
    raw = inbox_receive(
        body=body,
        channel=channel,
        source=source,
        filename=filename,
        content_type=content_type,
        fmt=fmt,
        uploaded_by=uploaded_by,
    )
    outcome = inbox_process(raw_item_id=raw.pk)
    if outcome is None:  # cannot happen for a fresh row unless it was deleted meanwhile
        outcome = ProcessOutcome(
            raw_item_id=raw.pk,
            status=RawItem.Status.FAILED,
            error="the payload was taken over by another process",
        )
    raw.refresh_from_db()
    return raw, outcome


# --- mentions: the bulk path ----------------------------------------------------------------


@dataclass
class _Prepared:
    item: NormalizedItem
    simhash: int  # signed 64-bit, as stored
    text_hash: str
    parent_name: str = ""
    root_name: str = ""
    parent_hash: str = ""
    root_hash: str = ""


def _bands(simhash_unsigned: int) -> tuple[int, int, int, int]:
    return (
        simhash_unsigned & _MASK16,
        (simhash_unsigned >> 16) & _MASK16,
        (simhash_unsigned >> 32) & _MASK16,
        (simhash_unsigned >> 48) & _MASK16,
    )


def _prepare(items: Sequence[NormalizedItem]) -> list[_Prepared]:
    """Fingerprints and repost-chain names of each item (SimHashes for the batch at once)."""
    prepared = [
        _Prepared(item=item, simhash=fp.simhash_signed, text_hash=fp.exact)
        for item, fp in zip(items, fingerprint_many([i.text for i in items]), strict=True)
    ]
    for p in prepared:
        text = p.item.text
        if p.item.parent_id or not ("//@" in text or "／／" in text or "// @" in text):
            continue
        chain = parse_repost_chain(text)
        if chain.chain:
            p.parent_name = (chain.parent_name or "")[:64]
            p.root_name = (chain.root_name or "")[:64]
            p.parent_hash = text_fingerprint(chain.chain[0][1])
            p.root_hash = text_fingerprint(chain.chain[-1][1])
    return prepared


def _analyze(texts: list[str]) -> list[Any]:
    """The NLP layer's analysis of each text, the whole chunk in one vectorised call."""
    if not texts:
        return []
    from monitoring import nlp

    return nlp.analyze_many(texts)


_POLARITIES = frozenset(Polarity.values)


def _analysis_values(analysis: Any) -> dict[str, Any]:
    polarity = str(getattr(analysis, "polarity", "") or "")
    if polarity not in _POLARITIES:
        polarity = ""
    sentiment = getattr(analysis, "sentiment", None)
    keywords = getattr(analysis, "keywords", None) or []
    return {
        "sentiment": float(sentiment) if isinstance(sentiment, int | float) else None,
        "polarity": polarity,
        "crisis_type": str(getattr(analysis, "crisis_type", "") or "")[:32],
        "keywords": [str(k) for k in list(keywords)[:20]],
    }


_SCALAR_FIELDS = ("title", "url", "author_id", "author_name", "location")
_COUNT_FIELDS = ("reposts", "comments", "likes", "views", "author_followers")


def _item_values(item: NormalizedItem) -> dict[str, Any]:
    return {
        "text": item.text,
        "title": (item.title or "")[:500],
        "url": (item.url or "")[:2000],
        "posted_at": item.posted_at,
        "author_id": (item.author_id or "")[:128],
        "author_name": (item.author_name or "")[:200],
        "author_followers": item.author_followers,
        "author_verified": bool(item.author_verified),
        "location": (item.location or "")[:100],
        "reposts": item.reposts,
        "comments": item.comments,
        "likes": item.likes,
        "views": item.views,
    }


def _changes(existing: Mention, item: NormalizedItem) -> dict[str, Any]:
    """Fields of ``existing`` that a new delivery of the same post changes. Counts that the
    new delivery leaves out keep their stored value."""
    values = _item_values(item)
    changes: dict[str, Any] = {}
    for name in ("text", "author_verified", *_SCALAR_FIELDS):
        if values[name] != getattr(existing, name) and (values[name] or name == "author_verified"):
            changes[name] = values[name]
    for name in _COUNT_FIELDS:
        if values[name] is not None and values[name] != getattr(existing, name):
            changes[name] = values[name]
    return changes


def _existing_mentions(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Mention]:
    keys = set(keys)
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        # A join against the (platform, external_id) unique index. Django would prepare a
        # thousand-parameter IN list per column, which costs more than the query itself.
        platforms, external_ids = zip(*keys, strict=True)
        rows: Iterable[Mention] = Mention.objects.raw(
            f"SELECT m.* FROM {Mention._meta.db_table} m "  # noqa: S608
            "JOIN unnest(%s::varchar[], %s::varchar[]) AS k(platform, external_id) "
            "ON m.platform = k.platform AND m.external_id = k.external_id",
            [list(platforms), list(external_ids)],
        )
    else:
        rows = Mention.objects.filter(
            platform__in={p for p, _ in keys}, external_id__in={e for _, e in keys}
        )
    return {(m.platform, m.external_id): m for m in rows if (m.platform, m.external_id) in keys}


def mentions_store(
    *,
    items: Sequence[NormalizedItem],
    source_id: int | None = None,
    raw_item_id: int | None = None,
    now: datetime | None = None,
    detect: bool = True,
) -> StoreResult:
    """Insert new mentions, update changed ones, leave identical ones alone.

    ``items`` must not repeat a (platform, external_id) (the parser dedupes a batch).
    Query count is constant in len(items) (see the module docstring).
    """
    result = StoreResult()
    if not items:
        return result
    now = now or timezone.now()
    prepared = _prepare(items)

    # Analysis is the expensive part: run it, outside the lock, only for texts that are new
    # or changed. The existing rows are read again under the lock to decide the writes.
    seen = _existing_mentions(p.item.key for p in prepared)
    analysis: dict[tuple[str, str], dict[str, Any]] = {}

    def analyze(batch: list[_Prepared]) -> None:
        for p, a in zip(batch, _analyze([p.item.text for p in batch]), strict=True):
            analysis[p.item.key] = _analysis_values(a)

    analyze([p for p in prepared if p.item.key not in seen or seen[p.item.key].text != p.item.text])

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_STORE_LOCK_KEY])
                # Mentions are derived from the inbox, whose rows are committed durably.
                # Should a crash lose this commit, the later (synchronous) commit that
                # marks the payload done is lost too - WAL is flushed in order - so
                # the payload is simply processed again.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        existing = _existing_mentions(p.item.key for p in prepared)
        missing = [
            p
            for p in prepared
            if p.item.key not in analysis
            and (p.item.key not in existing or existing[p.item.key].text != p.item.text)
        ]
        analyze(missing)  # only rows that changed between the two reads

        new = [p for p in prepared if p.item.key not in existing]
        clusters = _assign_clusters(new, now=now)
        parents = _resolve_repost_names(new)

        to_create: list[dict[str, Any]] = []
        for p in new:
            item = p.item
            parent_ext, root_ext = item.parent_id or "", item.root_id or ""
            if not parent_ext and p.parent_name:
                parent_ext = parents.get((item.platform, p.parent_name, p.parent_hash), "")
                root_ext = parents.get((item.platform, p.root_name, p.root_hash), "") or root_ext
            cluster_id = clusters.get(item.key)
            to_create.append(
                {
                    "platform": item.platform,
                    "external_id": item.external_id[:128],
                    "source_id": source_id,
                    "raw_item_id": raw_item_id,
                    "received_at": now,
                    "updated_at": now,
                    "parent_external_id": parent_ext[:128],
                    "root_external_id": (root_ext or "")[:128],
                    "repost_parent_name": "" if parent_ext else p.parent_name,
                    "repost_root_name": "" if root_ext else p.root_name,
                    "simhash": p.simhash,
                    "text_hash": p.text_hash,
                    "cluster_id": cluster_id,
                    "corrected_at": None,
                    **_item_values(item),
                    **analysis[item.key],
                }
            )
        _insert_mentions(to_create)
        result.created = len(to_create)

        to_update: list[Mention] = []
        for p in prepared:
            current = existing.get(p.item.key)
            if current is None:
                continue
            changes = _changes(current, p.item)
            if not changes:
                result.unchanged += 1
                continue
            if "text" in changes:
                changes.update(simhash=p.simhash, text_hash=p.text_hash)
                values = analysis[p.item.key]
                if current.corrected_at is not None:  # an analyst's word stands
                    values = {k: v for k, v in values.items() if k in ("sentiment", "keywords")}
                changes.update(values)
            changes["updated_at"] = now
            for name, value in changes.items():
                setattr(current, name, value)
            to_update.append(current)
        _update_mentions(to_update)
        result.updated = len(to_update)

        # Watch topics: link the new and changed mentions and add them to the minute
        # buckets in this same transaction (monitoring.watch.topics_rollup).
        rollup = watch.topics_rollup(
            mention_ids=[m.pk for m in to_update],
            created_keys=[(row["platform"], row["external_id"]) for row in to_create],
            now=now,
            detect=detect,
        )
    watch.rollup_after_commit(rollup)
    return result


@dataclass(eq=False)
class _Cluster:
    """A near-duplicate cluster as the store works with it (cheaper than a model instance)."""

    pk: int | None
    text_hash: str
    simhash: int  # signed, as stored
    joined: int = 0  # new members from this chunk


def _assign_clusters(new: list[_Prepared], *, now: datetime) -> dict[tuple[str, str], int]:
    """Find or create the near-duplicate cluster of each new mention (under the lock), and
    return the cluster id of each.

    Exact fingerprint first (any age), then SimHash: a cluster seen within
    MONITORING_CLUSTER_WINDOW_HOURS that shares one of the four 16-bit bands and lies within
    NEAR_DUPLICATE_DISTANCE bits. A shared band is certain up to 3 bits apart and likely
    beyond (docs/monitoring.md); the distance is checked in the database, so only real
    matches come back.
    """
    clusterable = [p for p in new if p.text_hash != _EMPTY_TEXT_HASH]
    if not clusterable:
        return {}
    hashes = list({p.text_hash for p in clusterable})
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, text_hash, simhash FROM {MentionCluster._meta.db_table} "  # noqa: S608
                "WHERE text_hash = ANY(%s::varchar[])",
                [hashes],
            )
            rows: Iterable[tuple[int, str, int]] = cursor.fetchall()
    else:
        rows = MentionCluster.objects.filter(text_hash__in=hashes).values_list(
            "pk", "text_hash", "simhash"
        )
    by_hash = {text_hash: _Cluster(pk, text_hash, simhash) for pk, text_hash, simhash in rows}
    unmatched = [p for p in clusterable if p.text_hash not in by_hash]
    stored = _stored_neighbours(unmatched, now=now) if unmatched else {}
    known: dict[int, _Cluster] = {c.pk: c for c in by_hash.values() if c.pk is not None}
    band_index: list[dict[int, list[_Cluster]]] = [{}, {}, {}, {}]

    assigned: dict[tuple[str, str], _Cluster] = {}
    fresh: list[_Cluster] = []
    for p in clusterable:
        cluster = by_hash.get(p.text_hash)
        if cluster is None:
            candidates = [
                known.setdefault(pk, _Cluster(pk, text_hash, simhash))
                for pk, text_hash, simhash in stored.get(p.text_hash, ())
            ]
            # Clusters this chunk has created so far, found through the same bands.
            for i, band in enumerate(_bands(p.simhash & _MASK64)):
                candidates.extend(band_index[i].get(band, ()))
            cluster = _nearest(p.simhash, candidates)
        if cluster is None:
            cluster = _Cluster(None, p.text_hash, p.simhash)
            fresh.append(cluster)
            for i, band in enumerate(_bands(p.simhash & _MASK64)):
                band_index[i].setdefault(band, []).append(cluster)
        by_hash.setdefault(p.text_hash, cluster)
        cluster.joined += 1
        assigned[p.item.key] = cluster
    _write_clusters(fresh, [c for c in known.values() if c.joined], now=now)
    return {key: cluster.pk for key, cluster in assigned.items() if cluster.pk is not None}


def _stored_neighbours(
    items: list[_Prepared], *, now: datetime
) -> dict[str, list[tuple[int, str, int]]]:
    """text_hash -> (id, text_hash, simhash) of the recent stored clusters within
    NEAR_DUPLICATE_DISTANCE of that item's SimHash that share a band with it."""
    window = now - timedelta(hours=float(_setting("MONITORING_CLUSTER_WINDOW_HOURS", 72)))
    wanted = {p.text_hash: p.simhash for p in items}
    found: dict[str, list[tuple[int, str, int]]] = {}
    if connection.vendor == "postgresql":
        table = MentionCluster._meta.db_table
        bands = [_bands(h & _MASK64) for h in wanted.values()]
        # One index probe per band and item; the distance is checked in the database
        # (bit_count needs PostgreSQL 14), so candidates that only share a band stay there.
        probes = " UNION ".join(
            f"SELECT q.k, c.id, c.text_hash, c.simhash FROM q JOIN {table} c "  # noqa: S608
            f"ON c.band{i} = q.b{i} WHERE c.last_seen_at >= %(window)s "
            "AND bit_count((c.simhash # q.h)::bit(64)) <= %(distance)s"
            for i in range(4)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH q(k, h, b0, b1, b2, b3) AS (SELECT * FROM unnest(%(keys)s::varchar[], "  # noqa: S608
                "%(hashes)s::bigint[], %(b0)s::int[], %(b1)s::int[], %(b2)s::int[], "
                f"%(b3)s::int[])) {probes}",
                {
                    "keys": list(wanted),
                    "hashes": list(wanted.values()),
                    **{f"b{i}": [b[i] for b in bands] for i in range(4)},
                    "window": window,
                    "distance": NEAR_DUPLICATE_DISTANCE,
                },
            )
            for key, pk, text_hash, simhash in cursor.fetchall():
                found.setdefault(key, []).append((pk, text_hash, simhash))
        return found
    # Other databases: fetch the band matches and check the distance here.
    band_sets: list[set[int]] = [set(), set(), set(), set()]
    for simhash in wanted.values():
        for i, band in enumerate(_bands(simhash & _MASK64)):
            band_sets[i].add(band)
    rows = MentionCluster.objects.filter(
        Q(band0__in=band_sets[0])
        | Q(band1__in=band_sets[1])
        | Q(band2__in=band_sets[2])
        | Q(band3__in=band_sets[3]),
        last_seen_at__gte=window,
    ).values_list("pk", "text_hash", "simhash", "band0", "band1", "band2", "band3")
    for pk, text_hash, simhash, *stored_bands in rows:
        for key, item_hash in wanted.items():
            if hamming(simhash, item_hash) <= NEAR_DUPLICATE_DISTANCE and any(
                a == b for a, b in zip(stored_bands, _bands(item_hash & _MASK64), strict=True)
            ):
                found.setdefault(key, []).append((pk, text_hash, simhash))
    return found


def _write_clusters(fresh: list[_Cluster], grown: list[_Cluster], *, now: datetime) -> None:
    """Insert the new clusters (setting their ids) and add new members to stored ones."""
    if fresh:
        bands = [_bands(c.simhash & _MASK64) for c in fresh]
        if connection.vendor == "postgresql":
            table = MentionCluster._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (text_hash, simhash, band0, band1, band2, band3, "  # noqa: S608
                    "size, first_seen_at, last_seen_at) SELECT t, h, b0, b1, b2, b3, n, %s, %s "
                    "FROM unnest(%s::varchar[], %s::bigint[], %s::int[], %s::int[], "
                    "%s::int[], %s::int[], %s::int[]) AS v(t, h, b0, b1, b2, b3, n) "
                    "RETURNING id, text_hash",
                    [
                        now,
                        now,
                        [c.text_hash for c in fresh],
                        [c.simhash for c in fresh],
                        *([b[i] for b in bands] for i in range(4)),
                        [c.joined for c in fresh],
                    ],
                )
                ids = dict((text_hash, pk) for pk, text_hash in cursor.fetchall())
            for cluster in fresh:
                cluster.pk = ids[cluster.text_hash]
        else:
            rows = [
                MentionCluster(
                    text_hash=c.text_hash,
                    simhash=c.simhash,
                    band0=b[0],
                    band1=b[1],
                    band2=b[2],
                    band3=b[3],
                    size=c.joined,
                    first_seen_at=now,
                    last_seen_at=now,
                )
                for c, b in zip(fresh, bands, strict=True)
            ]
            MentionCluster.objects.bulk_create(rows)
            for cluster, row in zip(fresh, rows, strict=True):
                cluster.pk = row.pk
    if not grown:
        return
    # An increment, not a size computed here: correct even without the lock.
    if connection.vendor == "postgresql":
        table = MentionCluster._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS c SET size = c.size + v.n, last_seen_at = %s "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::int[]) AS v(id, n) WHERE c.id = v.id",
                [now, [c.pk for c in grown], [c.joined for c in grown]],
            )
        return
    joined = Case(
        *(When(pk=c.pk, then=Value(c.joined)) for c in grown), output_field=IntegerField()
    )
    MentionCluster.objects.filter(pk__in=[c.pk for c in grown]).update(
        size=F("size") + joined, last_seen_at=now
    )


def _nearest(simhash: int, candidates: Iterable[_Cluster]) -> _Cluster | None:
    """The candidate closest to ``simhash`` within NEAR_DUPLICATE_DISTANCE (ties: oldest)."""
    best: _Cluster | None = None
    best_rank = (NEAR_DUPLICATE_DISTANCE + 1, 0)
    for cluster in candidates:
        rank = (hamming(simhash, cluster.simhash), cluster.pk or 1 << 62)
        if rank < best_rank:
            best, best_rank = cluster, rank
    return best


def _resolve_repost_names(new: list[_Prepared]) -> dict[tuple[str, str, str], str]:
    """(platform, author name, own-text fingerprint) -> external id, for the //@name: chains
    of new mentions: from this chunk and from stored mentions."""
    wanted = {
        (p.item.platform, name, text_hash)
        for p in new
        for name, text_hash in ((p.parent_name, p.parent_hash), (p.root_name, p.root_hash))
        if name
    }
    if not wanted:
        return {}
    found: dict[tuple[str, str, str], str] = {}
    for p in new:
        key = (p.item.platform, (p.item.author_name or "")[:64], p.text_hash)
        if key in wanted:
            found.setdefault(key, p.item.external_id)
    rows = Mention.objects.filter(
        platform__in={w[0] for w in wanted},
        author_name__in={w[1] for w in wanted},
        text_hash__in={w[2] for w in wanted},
    ).values_list("platform", "author_name", "text_hash", "external_id")
    for platform, name, text_hash, external_id in rows:
        found.setdefault((platform, name, text_hash), external_id)
    return found


_INSERT_COLUMNS = (
    "platform",
    "external_id",
    "source_id",
    "raw_item_id",
    "text",
    "title",
    "url",
    "posted_at",
    "received_at",
    "updated_at",
    "author_id",
    "author_name",
    "author_followers",
    "author_verified",
    "location",
    "reposts",
    "comments",
    "likes",
    "views",
    "parent_external_id",
    "root_external_id",
    "repost_parent_name",
    "repost_root_name",
    "simhash",
    "text_hash",
    "cluster_id",
    "sentiment",
    "polarity",
    "crisis_type",
    "keywords",
    "corrected_at",
)
_NULLABLE_COLUMNS = (
    "source_id",
    "raw_item_id",
    "author_followers",
    "reposts",
    "comments",
    "likes",
    "views",
    "cluster_id",
    "sentiment",
    "corrected_at",
)
# What a new delivery may change on a stored mention (see _changes), with its SQL type.
_UPDATE_COLUMNS = (
    ("text", "text"),
    ("title", "varchar"),
    ("url", "varchar"),
    ("author_id", "varchar"),
    ("author_name", "varchar"),
    ("author_followers", "bigint"),
    ("author_verified", "boolean"),
    ("location", "varchar"),
    ("reposts", "bigint"),
    ("comments", "bigint"),
    ("likes", "bigint"),
    ("views", "bigint"),
    ("simhash", "bigint"),
    ("text_hash", "varchar"),
    ("sentiment", "double precision"),
    ("polarity", "varchar"),
    ("crisis_type", "varchar"),
    ("keywords", "jsonb"),
    ("updated_at", "timestamptz"),
)


def _insert_mentions(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        Mention.objects.bulk_create([Mention(**row) for row in rows])
        return
    # COPY in CSV: the fastest way into PostgreSQL, ~2x a multi-row INSERT. None is
    # written as "", which FORCE_NULL turns into NULL for the nullable non-text columns
    # (the only ones that can be None); empty strings in text columns stay empty.
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    keywords_at = _INSERT_COLUMNS.index("keywords")
    for row in rows:
        values = [row[c] for c in _INSERT_COLUMNS]
        values[keywords_at] = json.dumps(values[keywords_at], ensure_ascii=False)
        writer.writerow(values)
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {Mention._meta.db_table} ({', '.join(_INSERT_COLUMNS)}) "
            f"FROM STDIN WITH (FORMAT csv, FORCE_NULL ({', '.join(_NULLABLE_COLUMNS)}))",
            buffer,
        )


def _update_mentions(mentions: list[Mention]) -> None:
    if not mentions:
        return
    names = [name for name, _type in _UPDATE_COLUMNS]
    if connection.vendor != "postgresql":
        Mention.objects.bulk_update(mentions, names)
        return
    from psycopg2.extras import Json

    template = (
        "(%s::bigint," + ",".join(f"%s::{sql_type}" for _n, sql_type in _UPDATE_COLUMNS) + ")"
    )
    with connection.cursor() as cursor:
        raw = cursor.cursor
        values = b",".join(
            raw.mogrify(
                template,
                [m.pk] + [Json(m.keywords) if n == "keywords" else getattr(m, n) for n in names],
            )
            for m in mentions
        ).decode()
        assignments = ", ".join(f"{n} = v.{n}" for n in names)
        # Names are ours; values escaped by mogrify (no params: a "%" in a text is literal).
        cursor.execute(
            f"UPDATE {Mention._meta.db_table} AS m SET {assignments} "  # noqa: S608
            f"FROM (VALUES {values}) AS v(id, {', '.join(names)}) WHERE m.id = v.id"
        )


# --- corrections ----------------------------------------------------------------------------


def mention_correct(
    *,
    mention: Mention,
    actor: User,
    polarity: str = "",
    crisis_type: str | None = None,
    note: str = "",
) -> SentimentCorrection:
    """Store an analyst's correction and apply it to the mention. ``crisis_type=None``
    leaves the type alone; "" clears it; ``polarity=""`` leaves polarity alone."""
    if polarity and polarity not in Polarity.values:
        raise ValueError(f"unknown polarity {polarity!r}")
    if not polarity and crisis_type is None:
        raise ValueError("a correction needs a polarity or a crisis type")
    with transaction.atomic():
        current = Mention.objects.select_for_update().get(pk=mention.pk)
        correction = SentimentCorrection.objects.create(
            mention=current,
            polarity=polarity,
            crisis_type=crisis_type or "",
            previous_polarity=current.polarity,
            previous_crisis_type=current.crisis_type,
            text=current.text,
            note=note[:500],
            corrected_by=actor,
        )
        values: dict[str, Any] = {"corrected_at": timezone.now()}
        if polarity:
            values["polarity"] = polarity
        if crisis_type is not None:
            values["crisis_type"] = crisis_type
        Mention.objects.filter(pk=current.pk).update(**values)
    for name, value in values.items():
        setattr(mention, name, value)
    return correction


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
