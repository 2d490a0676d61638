"""The shared HTTP client of the channel backends, and FakeVendor: a local HTTP server that
records each request and answers as a vendor would. The other test_channels_* files use it.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import translation

from crisis.channels import http


@dataclass
class Recorded:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.raw_query, keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] = b""
    delay: float = 0.0  # seconds to wait before answering (released early when the test ends)
    headers: dict[str, str] = field(default_factory=dict)


class FakeVendor:
    """Answers the n-th request with the n-th reply; the last reply repeats."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [Reply()]
        self.requests: list[Recorded] = []
        self._release = threading.Event()
        self._lock = threading.Lock()
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path, _, raw_query = self.path.partition("?")
                with vendor._lock:
                    vendor.requests.append(
                        Recorded(
                            method=self.command,
                            path=path,
                            raw_query=raw_query,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                        )
                    )
                    reply = vendor.replies[min(len(vendor.requests), len(vendor.replies)) - 1]
                if reply.delay:
                    vendor._release.wait(reply.delay)
                payload = (
                    json.dumps(reply.body).encode() if isinstance(reply.body, dict) else reply.body
                )
                try:
                    self.send_response(reply.status)
                    content_type = (
                        "application/json" if isinstance(reply.body, dict) else "text/plain"
                    )
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (the timeout test)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeVendor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _english() -> Any:
    # Error messages go through gettext; pin the language so the compiled catalogue of the
    # day does not decide what the assertions see.
    with translation.override("en"):
        yield


def test_post_sends_body_and_headers_and_returns_the_reply() -> None:
    with FakeVendor(Reply(200, {"errcode": 0})) as vendor:
        reply = http.post(f"{vendor.url}/hook?x=1", b'{"a":1}', headers={"X-Test": "yes"})
    assert reply.status == 200
    assert reply.json() == {"errcode": 0}
    (request,) = vendor.requests
    assert request.method == "POST"
    assert (request.path, request.raw_query) == ("/hook", "x=1")
    assert request.body == b'{"a":1}'
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["x-test"] == "yes"
    assert request.headers["user-agent"] == http.USER_AGENT


def test_post_reads_at_most_the_cap() -> None:
    with FakeVendor(Reply(200, b"x" * 10_000)) as vendor:
        reply = http.post(vendor.url, b"{}", max_response_bytes=100)
    assert reply.status == 200
    assert reply.body == b"x" * 100


def test_post_returns_the_error_body_of_a_4xx() -> None:
    with FakeVendor(Reply(400, {"code": 19021, "msg": "sign match fail"})) as vendor:
        reply = http.post(vendor.url, b"{}")
    assert reply.status == 400
    assert reply.json() == {"code": 19021, "msg": "sign match fail"}


@pytest.mark.parametrize("location", ["/elsewhere", "ftp://127.0.0.1/x", "file:///etc/passwd"])
def test_post_never_follows_a_redirect(location: str) -> None:
    with FakeVendor(Reply(302, b"", headers={"Location": location})) as vendor:
        reply = http.post(vendor.url, b"{}")
    assert reply.status == 302
    assert len(vendor.requests) == 1


def test_post_times_out_on_a_slow_server() -> None:
    with FakeVendor(Reply(200, {"errcode": 0}, delay=10)) as vendor:
        reply = http.post(vendor.url, b"{}", timeout=0.3)
    assert reply.status is None
    assert reply.error == "timed out after 0.3s"


def test_post_reports_a_refused_connection() -> None:
    reply = http.post(f"http://127.0.0.1:{closed_port()}/", b"{}")
    assert reply.status is None
    assert reply.error.startswith("connection failed")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://example.com/hook",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "https://exa mple.com/",
        " https://example.com/",
        "https://example.com/\r\nX: y",
        "https://example.com:99999999/",
        "example.com/hook",
    ],
)
def test_check_http_url_rejects_what_is_not_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="Enter an http:// or https:// URL"):
        http.check_http_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x", "https://hooks.example.com/a?b=c"])
def test_check_http_url_accepts_http_and_https(url: str) -> None:
    assert http.check_http_url(url).hostname
