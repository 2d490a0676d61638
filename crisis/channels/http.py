"""The one HTTP client of the channel backends: urllib with a timeout, no redirects and a cap
on what is read back.

Redirects are not followed at all. A POST redirected with 301/302/303 would be replayed by
urllib as a GET without the message, and following a webhook's redirect would let a
configured URL bounce the request to an address nobody reviewed (urllib would even follow
one to ftp://). A 3xx is reported as a permanent failure so someone fixes the URL.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext

from crisis.channels.base import ChannelTarget, DeliveryResult, clean_text

DEFAULT_TIMEOUT = 5.0
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Fenghuo-Notifier/1.0"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class HttpReply:
    status: int | None  # None when no HTTP response arrived (timeout, refused, DNS ...)
    body: bytes = b""
    error: str = ""  # why no response arrived

    def json(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return data if isinstance(data, dict) else None


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        # None makes urllib hand the 3xx on as an HTTPError instead of following it.
        return None


# build_opener keeps the environment's proxy settings (deployments behind an egress proxy)
# and replaces the default redirect handler with ours.
_OPENER = urllib.request.build_opener(_RefuseRedirects)


def check_http_url(url: str, *, what: str = "URL") -> urllib.parse.SplitResult:
    """Parse an http(s) URL with a host, or raise ValueError saying what is wrong."""
    if not url or url != url.strip() or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValueError(gettext("Enter an http:// or https:// URL without spaces."))
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise ValueError(gettext("Enter an http:// or https:// URL without spaces.")) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(gettext("Enter an http:// or https:// URL without spaces."))
    return parts


_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def bot_endpoint(
    target: ChannelTarget,
    *,
    vendor: str,
    default_base: str,
    path: str,
    token_from_url: Callable[[urllib.parse.SplitResult], str],
) -> tuple[str, str]:
    """(base, token) of a chat bot given either its full webhook URL or just its token.

    A full URL keeps its own host (Lark's open.larksuite.com, a private deployment), and
    target.base_url, when set, overrides either.
    """
    address = target.address.strip()
    if "://" in address:
        parts = check_http_url(address)
        token = token_from_url(parts)
        if not parts.path.startswith(path):
            raise ValueError(
                gettext("This is not a %(vendor)s bot webhook URL (its path starts with %(path)s).")
                % {"vendor": vendor, "path": path}
            )
        base = f"{parts.scheme}://{parts.netloc}"
    else:
        token, base = address, default_base
    if not _TOKEN.fullmatch(token):
        raise ValueError(
            gettext("Enter the %(vendor)s bot webhook URL, or just its key.") % {"vendor": vendor}
        )
    if target.base_url:
        base_parts = check_http_url(target.base_url)
        if base_parts.query or base_parts.fragment:
            raise ValueError(gettext("The API base URL must not have a query or a fragment."))
        base = target.base_url.rstrip("/")
    return base, token


def json_bytes(payload: Mapping[str, Any]) -> bytes:
    # Compact and UTF-8 (not \u escapes): the bytes are what gets signed and what the ledger
    # shows, and the vendors count their size limits in UTF-8 bytes.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _read_capped(stream: Any, max_bytes: int) -> bytes:
    return stream.read(max_bytes) or b""


def post(
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> HttpReply:
    """POST body to url. Never raises for network trouble: the reply says what happened."""
    all_headers = {"Content-Type": JSON_CONTENT_TYPE, "User-Agent": USER_AGENT}
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=body, headers=all_headers, method="POST")  # noqa: S310 - scheme checked by check_http_url
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return HttpReply(
                status=response.status, body=_read_capped(response, max_response_bytes)
            )
    except urllib.error.HTTPError as exc:
        # 4xx/5xx/3xx: the vendor's error JSON is in the body (Feishu answers 400 with a code).
        try:
            error_body = _read_capped(exc, max_response_bytes)
        except (OSError, http.client.HTTPException):
            error_body = b""
        finally:
            exc.close()
        return HttpReply(status=exc.code, body=error_body)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return HttpReply(status=None, error=f"timed out after {timeout:g}s")
        return HttpReply(status=None, error=f"connection failed: {exc.reason}")
    except TimeoutError:
        # Raised while reading the status line or body, after the connection was made.
        return HttpReply(status=None, error=f"timed out after {timeout:g}s")
    except (OSError, http.client.HTTPException) as exc:
        return HttpReply(status=None, error=f"connection failed: {type(exc).__name__}: {exc}")


def is_transient_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def short(text: str, limit: int = 200) -> str:
    text = " ".join(clean_text(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def vendor_result(
    reply: HttpReply,
    *,
    vendor: str,
    code_keys: tuple[str, ...],
    message_keys: tuple[str, ...],
    transient_codes: Collection[int],
    request_body: str,
) -> DeliveryResult:
    """Turn a chat vendor's reply ({"errcode": 0, ...} or {"code": 0, ...}) into a result.

    The vendors answer HTTP 200 for most failures and put the outcome in a code; HTTP
    status and code are both consulted because a gateway in front of them may answer 5xx
    or an HTML page.
    """
    if reply.status is None:
        return DeliveryResult(
            ok=False, transient=True, detail=f"{vendor}: {reply.error}", request_body=request_body
        )
    status = reply.status
    data = reply.json()
    code: Any = None
    if data is not None:
        code = next((data[k] for k in code_keys if k in data), None)
    if code is not None:
        message = next((str(data[k]) for k in message_keys if data and k in data), "")
        if 200 <= status < 300 and code == 0:
            return DeliveryResult(
                ok=True,
                transient=False,
                detail=f"{vendor}: ok",
                status_code=status,
                request_body=request_body,
            )
        transient = code in transient_codes or is_transient_status(status)
        return DeliveryResult(
            ok=False,
            transient=transient,
            detail=short(f"{vendor}: error {code}: {message}"),
            status_code=status,
            request_body=request_body,
        )
    if 200 <= status < 300:
        detail = f"{vendor}: unexpected reply (HTTP {status} without a result code)"
    elif 300 <= status < 400:
        detail = f"{vendor}: HTTP {status} redirect (not followed; check the URL)"
    else:
        detail = f"{vendor}: HTTP {status}"
    return DeliveryResult(
        ok=False,
        transient=is_transient_status(status),
        detail=detail,
        status_code=status,
        request_body=request_body,
    )
