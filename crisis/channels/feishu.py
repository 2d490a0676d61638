"""Feishu / Lark (飞书) custom bot with signature verification: an interactive card.

POST {base}/open-apis/bot/v2/hook/TOKEN
{"timestamp": "SECONDS", "sign": SIGN, "msg_type": "interactive", "card": {...}}
  sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))
reply {"code": 0, "msg": "success", "data": {}}  (older bots: {"StatusCode": 0, ...})

The card uses plain_text everywhere, so neither the title nor the body is parsed as lark_md:
a post's "[text](url)" or "<at id=all>" stays literal text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from typing import Any

from django.utils.translation import gettext, gettext_lazy

from crisis.channels import http
from crisis.channels.base import (
    ChannelTarget,
    DeliveryResult,
    Message,
    clean_text,
    clean_title,
    invalid_target,
    safe_url,
    truncate_utf8,
)

DEFAULT_BASE = "https://open.feishu.cn"
PATH = "/open-apis/bot/v2/hook/"
# Feishu caps a custom bot request at 20 KB; the body text gets what is left after the card.
MAX_BODY_BYTES = 16000
# 9499 too many requests, 11232 frequency limited (bot rate limits: 100/min, 5/s).
TRANSIENT_CODES = frozenset({9499, 11232})
HEADER_TEMPLATES = {"info": "blue", "warning": "orange", "critical": "red"}


def sign(secret: str, timestamp: str) -> str:
    # Feishu's documented quirk: "timestamp\nsecret" is the HMAC *key* and the message is
    # empty (DingTalk does it the other way round).
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _token_from_url(parts: urllib.parse.SplitResult) -> str:
    return parts.path[len(PATH) :] if parts.path.startswith(PATH) else ""


def _button(text: str, url: str, kind: str) -> dict[str, Any]:
    return {
        "tag": "button",
        "text": {"tag": "plain_text", "content": text},
        "type": kind,
        "url": url,
    }


def build_card(message: Message) -> dict[str, Any]:
    elements: list[dict[str, Any]] = []
    if body := clean_text(message.body):
        elements.append(
            {
                "tag": "div",
                "text": {"tag": "plain_text", "content": truncate_utf8(body, MAX_BODY_BYTES)},
            }
        )
    buttons = []
    if url := safe_url(message.url):
        buttons.append(_button(gettext("View incident"), url, "default"))
    if ack_url := safe_url(message.ack_url):
        buttons.append(_button(gettext("Acknowledge"), ack_url, "primary"))
    if buttons:
        elements.append({"tag": "action", "actions": buttons})
    return {
        "config": {"wide_screen_mode": True},
        "header": {
            "template": HEADER_TEMPLATES[message.level],
            "title": {"tag": "plain_text", "content": clean_title(message.title)},
        },
        "elements": elements,
    }


class FeishuBackend:
    kind = "feishu"
    label = gettext_lazy("Feishu bot")
    vendor = gettext_lazy("Feishu")

    def __init__(self, *, timeout: float = http.DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    def _endpoint(self, target: ChannelTarget) -> str:
        base, token = http.bot_endpoint(
            target,
            vendor=str(self.vendor),
            default_base=DEFAULT_BASE,
            path=PATH,
            token_from_url=_token_from_url,
        )
        return f"{base}{PATH}{token}"

    def validate_target(self, target: ChannelTarget) -> None:
        self._endpoint(target)

    def send(
        self, *, target: ChannelTarget, message: Message, now: float | None = None
    ) -> DeliveryResult:
        try:
            endpoint = self._endpoint(target)
        except ValueError as exc:
            return invalid_target(target, exc)
        payload: dict[str, Any] = {}
        if target.secret:
            # Feishu rejects a timestamp more than an hour off, so it is taken per attempt.
            timestamp = str(int(time.time() if now is None else now))
            payload |= {"timestamp": timestamp, "sign": sign(target.secret, timestamp)}
        payload |= {"msg_type": "interactive", "card": build_card(message)}
        body = http.json_bytes(payload)
        reply = http.post(endpoint, body, timeout=self.timeout)
        # The signature is replayable for an hour, so the ledger copy does not keep it.
        shown = http.json_bytes(payload | {"sign": "[redacted]"} if "sign" in payload else payload)
        return http.vendor_result(
            reply,
            vendor="feishu",
            code_keys=("code", "StatusCode"),
            message_keys=("msg", "StatusMessage"),
            transient_codes=TRANSIENT_CODES,
            request_body=shown.decode("utf-8"),
        )
