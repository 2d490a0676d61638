"""WeCom (企业微信) group robot: a markdown message to the group's webhook.

POST {base}/cgi-bin/webhook/send?key=KEY
{"msgtype": "markdown", "markdown": {"content": "..."}}   content: at most 4096 UTF-8 bytes
reply {"errcode": 0, "errmsg": "ok"}
"""

from __future__ import annotations

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

DEFAULT_BASE = "https://qyapi.weixin.qq.com"
PATH = "/cgi-bin/webhook/send"
MAX_CONTENT_BYTES = 4096
# -1 system busy, 45009 API call frequency limit (20 messages a minute per bot),
# 45033 too many concurrent calls: all clear up by themselves.
TRANSIENT_CODES = frozenset({-1, 45009, 45033})
# WeCom markdown knows three font colours: info (green), comment (grey), warning (orange-red).
LEVEL_COLOURS = {"info": "info", "warning": "warning", "critical": "warning"}


def _key_from_url(parts: urllib.parse.SplitResult) -> str:
    return urllib.parse.parse_qs(parts.query).get("key", [""])[0]


def build_content(message: Message) -> str:
    """The markdown body: coloured bold title, the text, then the links.

    The text is cut (not the links) so an over-long post still leaves the buttons usable.
    """
    title = neutralise_markdown(clean_title(message.title))
    colour = LEVEL_COLOURS[message.level]
    head = f'<font color="{colour}">**{title}**</font>'
    links = []
    if url := safe_url(message.url):
        links.append(f"[{gettext('View incident')}]({markdown_url(url)})")
    if ack_url := safe_url(message.ack_url):
        links.append(f"[{gettext('Acknowledge')}]({markdown_url(ack_url)})")
    tail = "\n\n" + " | ".join(links) if links else ""
    body = neutralise_markdown(clean_text(message.body))
    if body:
        room = MAX_CONTENT_BYTES - len((head + "\n\n" + tail).encode("utf-8"))
        body = "\n\n" + truncate_utf8(body, room) if room > 0 else ""
    # A last cut for the degenerate case of a huge title or links.
    return truncate_utf8(head + body + tail, MAX_CONTENT_BYTES)


class WeComBackend:
    kind = "wecom"
    label = gettext_lazy("WeCom group bot")
    vendor = gettext_lazy("WeCom")

    def __init__(self, *, timeout: float = http.DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    def _endpoint(self, target: ChannelTarget) -> str:
        base, key = http.bot_endpoint(
            target,
            vendor=str(self.vendor),
            default_base=DEFAULT_BASE,
            path=PATH,
            token_from_url=_key_from_url,
        )
        return f"{base}{PATH}?{urllib.parse.urlencode({'key': key})}"

    def validate_target(self, target: ChannelTarget) -> None:
        self._endpoint(target)

    def send(
        self, *, target: ChannelTarget, message: Message, now: float | None = None
    ) -> DeliveryResult:
        try:
            endpoint = self._endpoint(target)
        except ValueError as exc:
            return invalid_target(target, exc)
        payload = {"msgtype": "markdown", "markdown": {"content": build_content(message)}}
        body = http.json_bytes(payload)
        reply = http.post(endpoint, body, timeout=self.timeout)
        # The key lives in the URL, not the body, so the body can be stored as sent.
        return http.vendor_result(
            reply,
            vendor="wecom",
            code_keys=("errcode",),
            message_keys=("errmsg",),
            transient_codes=TRANSIENT_CODES,
            request_body=body.decode("utf-8"),
        )
