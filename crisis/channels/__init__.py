"""Notification channel backends: e-mail, WeCom, DingTalk, Feishu and a generic webhook.

Every backend has the same small interface (see base.ChannelBackend) and is registered in
_BACKENDS below, the one place that lists them. The backends know nothing of models: the
incident core turns a ledger row into a Message and a ChannelTarget, calls
deliver_with_retry, and records the DeliveryResult.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from crisis.channels.base import ChannelBackend, ChannelTarget, DeliveryResult, Message
from crisis.channels.dingtalk import DingTalkBackend
from crisis.channels.email import EmailBackend
from crisis.channels.feishu import FeishuBackend
from crisis.channels.webhook import WebhookBackend, verify_webhook_signature
from crisis.channels.wecom import WeComBackend

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

__all__ = [
    "ChannelBackend",
    "ChannelTarget",
    "DeliveryResult",
    "Message",
    "available_backends",
    "channel_choices",
    "deliver_with_retry",
    "get_backend",
    "verify_webhook_signature",
]

logger = logging.getLogger(__name__)

_BACKENDS: dict[str, ChannelBackend] = {
    backend.kind: backend
    for backend in (
        EmailBackend(),
        WeComBackend(),
        DingTalkBackend(),
        FeishuBackend(),
        WebhookBackend(),
    )
}


def get_backend(kind: str) -> ChannelBackend:
    try:
        return _BACKENDS[kind]
    except KeyError:
        known = ", ".join(sorted(_BACKENDS))
        raise KeyError(f"unknown notification channel {kind!r} (known: {known})") from None


def available_backends() -> list[ChannelBackend]:
    return list(_BACKENDS.values())


def channel_choices() -> list[tuple[str, _StrPromise | str]]:
    """(kind, label) pairs for a model field or form; labels stay lazy until rendered."""
    return [(backend.kind, backend.label) for backend in _BACKENDS.values()]


def deliver_with_retry(
    *,
    target: ChannelTarget,
    message: Message,
    attempts: int = 3,
    backoff: Sequence[float] = (1, 4, 15),
    sleep: Callable[[float], object] = time.sleep,
) -> DeliveryResult:
    """Send, retrying transient failures; return the last result.

    Before retry n (1-based) it sleeps backoff[n-1] (the last value repeats if attempts
    outnumber it). Each attempt signs afresh, so a retry never carries a stale timestamp.
    The caller records the result; an unknown kind or an invalid target is a permanent
    failure rather than an exception, so the ledger says why.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    try:
        backend = get_backend(target.kind)
    except KeyError as exc:
        return DeliveryResult(ok=False, transient=False, detail=str(exc.args[0]))
    result = DeliveryResult(ok=False, transient=False, detail="not sent")
    for attempt in range(attempts):
        if attempt:
            sleep(backoff[min(attempt - 1, len(backoff) - 1)] if backoff else 0)
        try:
            result = backend.send(target=target, message=message)
        except Exception as exc:
            # A bug in a backend, not a delivery problem: retrying would repeat it, and the
            # ledger still gets a row that says what broke.
            logger.exception("channel %s raised while sending", target.kind)
            return DeliveryResult(
                ok=False,
                transient=False,
                detail=f"{target.kind}: internal error: {type(exc).__name__}",
            )
        if result.ok or not result.transient:
            return result
        logger.warning(
            "channel %s attempt %d/%d failed: %s", target.kind, attempt + 1, attempts, result.detail
        )
    return result
