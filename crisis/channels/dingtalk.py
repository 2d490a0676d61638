"""DingTalk (钉钉) custom robot, signed (加签): a markdown message.

POST {base}/robot/send?access_token=TOKEN&timestamp=MS&sign=SIGN
  sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))
{"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}}
reply {"errcode": 0, "errmsg": "ok"}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse

from django.utils.translation import gettext, gettext_lazy

from crisis.channels import http
from crisis.channels.base import (
    ChannelTarget,
    DeliveryResult,
    Message,
    clean_text,
    clean_title,
    invalid_target,
    markdown_url,
    neutralise_markdown,
    safe_url,
    truncate_utf8,
)

DEFAULT_BASE = "https://oapi.dingtalk.com"
PATH = "/robot/send"
# DingTalk documents no byte limit for markdown; this cap is ours, well inside what the
# robot accepts, so a pasted article cannot make the request fail as a whole.
MAX_TEXT_BYTES = 8000
# 130101 / 410100: sending too fast (20 messages a minute, then throttled for 10 minutes);
# -1: system busy.
TRANSIENT_CODES = frozenset({-1, 130101, 410100})


def sign(secret: str, timestamp_ms: str) -> str:
    """Base64 of HMAC-SHA256 keyed by the secret over "timestamp\\nsecret" (not yet
    URL-encoded: urlencode does that when the query is built)."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def _token_from_url(parts: urllib.parse.SplitResult) -> str:
    return urllib.parse.parse_qs(parts.query).get("access_token", [""])[0]


def build_markdown(message: Message) -> dict[str, str]:
    # The title is the plain preview in the conversation list; the text is the markdown.
    title = clean_title(message.title)
    head = f"#### {neutralise_markdown(title)}"
    links = []
    if url := safe_url(message.url):
        links.append(f"[{gettext('View incident')}]({markdown_url(url)})")
    if ack_url := safe_url(message.ack_url):
        links.append(f"[{gettext('Acknowledge')}]({markdown_url(ack_url)})")
    tail = "\n\n" + " | ".join(links) if links else ""
    body = neutralise_markdown(clean_text(message.body))
    if body:
        room = MAX_TEXT_BYTES - len((head + "\n\n" + tail).encode("utf-8"))
        body = "\n\n" + truncate_utf8(body, room) if room > 0 else ""
    return {"title": title, "text": truncate_utf8(head + body + tail, MAX_TEXT_BYTES)}


class DingTalkBackend:
    kind = "dingtalk"
    label = gettext_lazy("DingTalk robot")
    vendor = gettext_lazy("DingTalk")

    def __init__(self, *, timeout: float = http.DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    def _base_and_token(self, target: ChannelTarget) -> tuple[str, str]:
        return http.bot_endpoint(
            target,
            vendor=str(self.vendor),
            default_base=DEFAULT_BASE,
            path=PATH,
            token_from_url=_token_from_url,
        )

    def validate_target(self, target: ChannelTarget) -> None:
        self._base_and_token(target)

    def send(
        self, *, target: ChannelTarget, message: Message, now: float | None = None
    ) -> DeliveryResult:
        try:
            base, token = self._base_and_token(target)
        except ValueError as exc:
            return invalid_target(target, exc)
        query = {"access_token": token}
        if target.secret:
            # Without a secret the robot must be secured by keyword or IP allow-list instead;
            # DingTalk rejects a timestamp more than an hour off, so it is taken per attempt.
            timestamp = str(round((time.time() if now is None else now) * 1000))
            query |= {"timestamp": timestamp, "sign": sign(target.secret, timestamp)}
        endpoint = f"{base}{PATH}?{urllib.parse.urlencode(query)}"
        payload = {"msgtype": "markdown", "markdown": build_markdown(message)}
        body = http.json_bytes(payload)
        reply = http.post(endpoint, body, timeout=self.timeout)
        # Token and signature travel in the query string, so the body holds no secret.
        return http.vendor_result(
            reply,
            vendor="dingtalk",
            code_keys=("errcode",),
            message_keys=("errmsg",),
            transient_codes=TRANSIENT_CODES,
            request_body=body.decode("utf-8"),
        )
