"""HTTP GET for feeds and polled APIs, with conditional requests and a size cap.

Only http and https are fetched, also after redirects: urllib would otherwise follow a
redirect to ftp:, and its opener reads file: URLs.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from .errors import FetchError

DEFAULT_TIMEOUT = 15.0
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
USER_AGENT = "Fenghuo/1.0 (crisis monitoring; feed reader)"
_CHUNK = 64 * 1024
_ALLOWED_SCHEMES = ("http", "https")


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class FeedFetchState:
    """Validators remembered between polls of one source (store them on the Source)."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def after(self, result: FetchResult) -> FeedFetchState:
        """The state for the next poll: a 304 keeps ours, a fresh response brings its own."""
        if result.not_modified:
            return FeedFetchState(
                etag=result.etag or self.etag,
                last_modified=result.last_modified or self.last_modified,
            )
        return FeedFetchState(etag=result.etag, last_modified=result.last_modified)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme.lower() not in _ALLOWED_SCHEMES:
            raise FetchError(f"refused redirect to a non-HTTP URL: {newurl[:200]}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)


def fetch_url(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> FetchResult:
    """GET url. 304 gives an empty body; any other non-2xx status raises FetchError.

    timeout bounds each socket operation and also the whole body download, so a server
    trickling bytes cannot hold a worker.
    """
    if urlsplit(url).scheme.lower() not in _ALLOWED_SCHEMES:
        raise FetchError(f"only http and https URLs can be fetched: {url[:200]}")
    state = FeedFetchState(etag=etag, last_modified=last_modified)
    # The scheme is checked above and redirects are checked by _HttpOnlyRedirects.
    request = urllib.request.Request(url, headers=_request_headers(state))  # noqa: S310
    deadline = time.monotonic() + timeout
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = _read_capped(response, max_bytes, deadline, url)
            return _result(response.status, body, response.headers)
    except urllib.error.HTTPError as exc:
        with exc:
            if exc.code == 304:
                return _result(304, b"", exc.headers, fallback=state)
            raise FetchError(
                f"HTTP {exc.code} {exc.reason} from {url[:200]}", status=exc.code
            ) from None
    except urllib.error.URLError as exc:
        raise FetchError(f"could not fetch {url[:200]}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"could not fetch {url[:200]}: {exc!r}") from None


def _request_headers(state: FeedFetchState) -> dict[str, str]:
    return {
        "User-Agent": USER_AGENT,
        "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
        "application/json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
        # Compressed bodies would need decompressing under the same cap (zip bombs); the
        # feeds we read are small enough to take uncompressed.
        "Accept-Encoding": "identity",
        **state.request_headers(),
    }


def _read_capped(response: Any, max_bytes: int, deadline: float, url: str) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"response from {url[:200]} is {declared} bytes, over {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"response from {url[:200]} is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchError(f"response from {url[:200]} took longer than the timeout")
        chunks.append(chunk)
    return b"".join(chunks)


def _result(
    status: int, body: bytes, headers: Message, *, fallback: FeedFetchState | None = None
) -> FetchResult:
    fallback = fallback or FeedFetchState()
    return FetchResult(
        status=status,
        body=body,
        etag=headers.get("ETag") or fallback.etag,
        last_modified=headers.get("Last-Modified") or fallback.last_modified,
        content_type=headers.get("Content-Type"),
    )
