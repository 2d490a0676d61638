"""The channel interface (message, target, result, backend) and the text rules every backend
shares.

Titles and bodies carry social-media text (an incident is often named after a post), so they
are hostile input: backends keep the words as given but drop control characters, and the
markdown channels neutralise the characters that would let that text create links, images or
@-mentions in the vendor's markup.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

LEVELS = ("info", "warning", "critical")


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    level: str
    url: str | None = None
    ack_url: str | None = None
    dedupe_key: str = ""

    def __post_init__(self) -> None:
        # Every backend maps the level to a colour or a header; an unknown level is a caller
        # bug, better caught where the message is built than in a worker.
        if self.level not in LEVELS:
            raise ValueError(f"unknown message level {self.level!r}; use one of {LEVELS}")


@dataclass(frozen=True)
class ChannelTarget:
    kind: str
    address: str
    secret: str = ""
    base_url: str = ""


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    transient: bool
    detail: str
    status_code: int | None = None
    request_body: str = ""


class ChannelBackend(Protocol):
    kind: str

    # Read-only so a backend may declare it as a gettext_lazy promise.
    @property
    def label(self) -> _StrPromise | str: ...

    def validate_target(self, target: ChannelTarget) -> None: ...

    def send(
        self, *, target: ChannelTarget, message: Message, now: float | None = None
    ) -> DeliveryResult: ...


def invalid_target(target: ChannelTarget, exc: ValueError) -> DeliveryResult:
    """A target that fails validation will fail the same way on every retry."""
    return DeliveryResult(ok=False, transient=False, detail=f"invalid {target.kind} target: {exc}")


# --- text ------------------------------------------------------------------------------------

# C0 controls except tab and newline, DEL, C1 controls, and the bidi overrides/isolates that
# can make a hostile post display differently from what it says.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\x85]")
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Keep the text as given but normalise line breaks and drop control characters."""
    return _CONTROL.sub("", _LINE_BREAKS.sub("\n", text)).strip("\n")


def clean_title(text: str) -> str:
    """A title is one line: e-mail subjects reject newlines, chat headers show one line."""
    return _SPACES.sub(" ", clean_text(text)).strip()


def clean_token(text: str) -> str:
    """For values that end up in HTTP headers (an idempotency key): no control characters,
    so they cannot split a header."""
    return _CONTROL.sub("", _LINE_BREAKS.sub("", text)).replace("\n", "").replace("\t", "")


# WeCom and DingTalk markdown turn "[text](url)" into a link and "![](url)" into a fetched
# image, and WeCom turns "<@userid>" into a mention and accepts <font>/<a>-style tags. The
# full-width forms read the same to a Chinese reader and are inert in both renderers.
_MARKUP = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞"})


def neutralise_markdown(text: str) -> str:
    return text.translate(_MARKUP)


def safe_url(url: str | None) -> str | None:
    """The link if it is an absolute http(s) URL without whitespace or controls, else None.

    The links are built by the core from our own settings, but a link that is not http(s)
    (javascript:, a relative path) must never reach a button or an e-mail.
    """
    if not url:
        return None
    if _CONTROL.search(url) or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def markdown_url(url: str) -> str:
    """Escape the characters that would end a markdown link target early."""
    return url.replace("(", "%28").replace(")", "%29")


def truncate_utf8(text: str, max_bytes: int, *, ellipsis: str = "…") -> str:
    """Cut text to at most max_bytes of UTF-8 without splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    room = max_bytes - len(ellipsis.encode("utf-8"))
    if room <= 0:
        return encoded[:max_bytes].decode("utf-8", errors="ignore")
    # errors="ignore" drops only the partial character left at the cut.
    return encoded[:room].decode("utf-8", errors="ignore") + ellipsis
