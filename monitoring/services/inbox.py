"""The inbox: every received payload is stored before anything else happens to it.

1. ``inbox_receive`` stores the payload bytes as a RawItem (status pending) and commits,
   before anything else happens to them (a dead worker or broker then loses nothing).
2. ``inbox_process`` claims the row with a conditional UPDATE (a lease: token +
   ``claimed_at``), parses it, and stores the items chunk by chunk through
   ``mentions_store`` (``monitoring.services.store``). Each chunk is one transaction;
   re-running a chunk changes nothing, so a worker killed mid-payload and a re-run of the
   payload are both harmless.
3. ``inbox_stale_ids`` (beat) finds rows left pending or whose lease expired, for the
   task to enqueue again.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import F, Q
from django.utils import timezone

from crisis.enqueue import send_on_commit
from monitoring.ingest import IngestError, ParseResult, PayloadError, parse_mapped, parse_payload
from monitoring.models import RawItem, Source
from monitoring.services.store import StoreResult, mentions_store

logger = logging.getLogger(__name__)


def max_body_bytes() -> int:
    return int(settings.INGEST_MAX_BYTES)


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
    return timedelta(seconds=float(settings.INBOX_CLAIM_TIMEOUT))


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
    max_attempts = int(settings.INBOX_MAX_ATTEMPTS)
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
    size = chunk_size or int(settings.INBOX_CHUNK_SIZE)
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


def inbox_stale_ids(*, older_than_seconds: float | None = None) -> list[int]:
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
