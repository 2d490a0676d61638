"""Generic webhook: the message as JSON, signed so the receiver can check it came from us.

POST URL
Content-Type: application/json
X-Fenghuo-Timestamp: <unix seconds>
X-Fenghuo-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw_body}")>
Idempotency-Key: <dedupe_key>
{"event": "fenghuo.notification", "title", "body", "level", "url", "ack_url", "dedupe_key",
 "sent_at"}

2xx is delivered; 408, 429 and 5xx are worth retrying; any other status is permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

from django.utils.translation import gettext_lazy

from crisis.channels import http
from crisis.channels.base import (
    ChannelTarget,
    DeliveryResult,
    Message,
    clean_text,
    clean_title,
    clean_token,
    invalid_target,
    safe_url,
)

EVENT = "fenghuo.notification"
SIGNATURE_PREFIX = "sha256="


def compute_signature(secret: str, timestamp: str, body: bytes) -> str:
    # The timestamp is signed with the body so a captured request cannot be replayed later
    # with a fresh timestamp header.
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify_webhook_signature(
    secret: str,
    timestamp: str,
    body: bytes | str,
    signature: str,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> bool:
    """Check a received Fenghuo webhook: the signature matches the raw body and the timestamp
    is within `tolerance` seconds of now. For receivers (and our tests).

    `body` must be the raw request body exactly as received, not re-serialised JSON.
    """
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    # compare_digest: a plain == leaks through timing how much of a forged signature matched.
    return hmac.compare_digest(compute_signature(secret, str(sent), raw), signature or "")


def build_payload(message: Message, *, now: float) -> dict[str, object]:
    return {
        "event": EVENT,
        "title": clean_title(message.title),
        "body": clean_text(message.body),
        "level": message.level,
        "url": safe_url(message.url),
        "ack_url": safe_url(message.ack_url),
        "dedupe_key": message.dedupe_key,
        "sent_at": datetime.fromtimestamp(int(now), tz=UTC).isoformat(),
    }


class WebhookBackend:
    kind = "webhook"
    label = gettext_lazy("Webhook")

    def __init__(self, *, timeout: float = http.DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    def validate_target(self, target: ChannelTarget) -> None:
        # base_url is not used: the address is the whole endpoint.
        http.check_http_url(target.address)

    def send(
        self, *, target: ChannelTarget, message: Message, now: float | None = None
    ) -> DeliveryResult:
        try:
            self.validate_target(target)
        except ValueError as exc:
            return invalid_target(target, exc)
        sent = time.time() if now is None else now
        timestamp = str(int(sent))
        body = http.json_bytes(build_payload(message, now=sent))
        headers = {"Content-Type": "application/json", "X-Fenghuo-Timestamp": timestamp}
        if target.secret:
            headers["X-Fenghuo-Signature"] = compute_signature(target.secret, timestamp, body)
        if key := clean_token(message.dedupe_key):
            headers["Idempotency-Key"] = key
        reply = http.post(target.address, body, headers=headers, timeout=self.timeout)
        request_body = body.decode("utf-8")
        if reply.status is None:
            return DeliveryResult(
                ok=False,
                transient=True,
                detail=f"webhook: {reply.error}",
                request_body=request_body,
            )
        if 200 <= reply.status < 300:
            detail = f"webhook: HTTP {reply.status}"
        elif 300 <= reply.status < 400:
            detail = f"webhook: HTTP {reply.status} redirect (not followed; check the URL)"
        else:
            # The receiver's own words help whoever fixes it; they are capped and cleaned.
            said = http.short(reply.body.decode("utf-8", errors="replace"), 120)
            detail = f"webhook: HTTP {reply.status}" + (f": {said}" if said else "")
        return DeliveryResult(
            ok=200 <= reply.status < 300,
            transient=http.is_transient_status(reply.status),
            detail=detail,
            status_code=reply.status,
            request_body=request_body,
        )
