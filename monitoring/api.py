"""Monitoring's part of the JSON API (mounted under /api/v1/ by crisis/urls.py).

``POST /api/v1/sources/{slug}/mentions`` is the webhook push (docs/monitoring.md). The
order of checks is fixed: source, bearer token (401), declared size (413), content type
(415), body size (413), HMAC signature (401); then the body is written to the inbox and
committed; only then parsed (400 when it is unusable as a whole, the payload kept and
marked failed) and answered 202 with the counts, processing going on in a worker.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.http import HttpRequest, JsonResponse
from ninja import Router

from monitoring import services
from monitoring.ingest import IngestError
from monitoring.models import RawItem, Source

logger = logging.getLogger(__name__)

router = Router(tags=["monitoring"])

SIGNATURE_HEADER = "X-Fenghuo-Signature"
_JSON_TYPES = {
    "application/json",
    "text/json",
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonl",
    "application/jsonlines",
    "application/x-jsonlines",
    "application/json-lines",
    "application/json-seq",
    "application/feed+json",
}


def _error(status: int, message: str, **extra: object) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="fenghuo"'
    return response


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _accepted_type(media_type: str) -> bool:
    return media_type in _JSON_TYPES or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def signature_for(secret: str, body: bytes) -> str:
    """The value of X-Fenghuo-Signature for ``body``: ``sha256=`` + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """At most ``limit`` bytes of the body, or None when it is longer (chunked uploads
    have no Content-Length, so the stream itself is capped)."""
    data = request.read(limit + 1)
    return None if len(data) > limit else data


@router.post("/sources/{slug}/mentions", url_name="webhook_mentions", auth=None)
def webhook_mentions(request: HttpRequest, slug: str) -> JsonResponse:
    source = Source.objects.filter(slug=slug, kind=Source.Kind.WEBHOOK).first()
    if source is None:
        return _error(404, f"no webhook source with the slug {slug[:60]!r}")
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not source.token_matches(token.strip()):
        return _error(401, "missing or invalid bearer token for this source")
    if not source.enabled:
        return _error(403, "this source is disabled")
    limit = services.max_body_bytes()
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return _error(413, f"body is {declared} bytes; the limit is {limit} bytes", limit=limit)
    content_type = request.headers.get("Content-Type", "")
    media_type = _media_type(content_type)
    if not _accepted_type(media_type):
        return _error(
            415,
            f"content type {media_type or '(none)'!r} is not accepted; send application/json "
            "(an object with an items list, or an array) or application/x-ndjson (JSON Lines)",
        )
    body = _read_body(request, limit)
    if body is None:
        return _error(413, f"body is larger than the limit of {limit} bytes", limit=limit)
    if source.signing_secret:
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(given.strip(), signature_for(source.signing_secret, body)):
            return _error(401, f"missing or invalid {SIGNATURE_HEADER} header")

    # The payload is committed to the inbox before it is even parsed.
    raw = services.inbox_receive(
        body=body, channel=RawItem.Channel.WEBHOOK, source=source, content_type=content_type
    )
    try:
        parsed = services.inbox_parse(raw_item=raw)
    except IngestError as exc:
        services.inbox_mark_failed(raw_item=raw, error=str(exc))
        return _error(400, str(exc), inbox_id=raw.pk)
    services.inbox_enqueue(raw_item=raw)
    return JsonResponse(
        {
            "accepted": len(parsed.items),
            "duplicates": parsed.duplicates_in_batch,
            "rejected": [{"index": r.index, "error": r.error} for r in parsed.rejected],
            "inbox_id": raw.pk,
        },
        status=202,
    )
