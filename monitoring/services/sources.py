"""Sources: polled feeds and JSON APIs (one lease per poll, backoff, health, paging the
managers when a source keeps failing) and the bearer tokens of push sources.

A poll is claimed with a conditional UPDATE (``source_claim_poll``: a token and a lease
until SOURCE_POLL_LEASE_SECONDS), so at most one poll per source runs; what it fetched goes
into the inbox (``monitoring.services.inbox``) and is processed like a push.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crisis.services import notification_broadcast
from monitoring.ingest import FetchError, IngestError, fetch_url
from monitoring.models import RawItem, Source, token_digest
from monitoring.services.inbox import (
    _parse_raw,
    inbox_enqueue,
    inbox_mark_failed,
    inbox_receive,
    max_body_bytes,
)

logger = logging.getLogger(__name__)


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
    lease = timedelta(seconds=float(settings.SOURCE_POLL_LEASE_SECONDS))
    due = Q() if force else Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
    claimed = Source.objects.filter(
        due,
        Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now),
        pk=source_id,
        enabled=True,
        kind__in=[Source.Kind.FEED, Source.Kind.JSON_API],
    ).update(poll_token=token, poll_lease_until=now + lease)
    return token if claimed else None


def sources_claim_due(*, now: datetime | None = None) -> list[tuple[int, str]]:
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


def source_claim_poll_now(*, source: Source) -> str | None:
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
            timeout=float(settings.SOURCE_FETCH_TIMEOUT),
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
    cap = float(settings.SOURCE_MAX_BACKOFF_SECONDS)
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
        threshold = int(settings.SOURCE_PAGE_AFTER_FAILURES)
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
    notification_broadcast(
        audience_role="manager",
        title=_("Source %(name)s is failing") % {"name": name},
        body=_("%(count)d polls in a row failed. Last error: %(error)s")
        % {"count": failures, "error": error[:500]},
        dedupe_key=f"monitoring:source-failing:{source_id}:{streak}",
        level="warning",
    )
