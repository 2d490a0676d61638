"""fetch_url and conditional GET against a real local HTTP server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitoring.ingest import FeedFetchState, FetchError, FetchResult, fetch_url

FEED = '<rss version="2.0"><channel><title>云朵</title></channel></rss>'.encode()
ETAG = '"v1"'
LAST_MODIFIED = "Tue, 24 Nov 2026 03:40:00 GMT"


class Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        Handler.seen.append(dict(self.headers))
        route = getattr(self, "route_" + self.path.strip("/").replace("-", "_"), None)
        if route is None:
            self.send_error(404)
            return
        route()

    def route_feed(self) -> None:
        if self.headers.get("If-None-Match") == ETAG or (
            self.headers.get("If-Modified-Since") == LAST_MODIFIED
        ):
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(FEED)))
        self.send_header("ETag", ETAG)
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()
        self.wfile.write(FEED)

    def route_big(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(200_000))
        self.end_headers()
        self.wfile.write(b"x" * 200_000)

    def route_big_no_length(self) -> None:
        self.send_response(200)
        self.end_headers()  # no Content-Length: the body runs until the connection closes
        for _ in range(50):
            self.wfile.write(b"y" * 10_000)
        self.close_connection = True

    def route_redirect_file(self) -> None:
        self.send_response(302)
        self.send_header("Location", "file:///etc/passwd")
        self.end_headers()

    def route_redirect_ftp(self) -> None:
        self.send_response(302)
        self.send_header("Location", "ftp://127.0.0.1/feed.xml")
        self.end_headers()

    def route_redirect_feed(self) -> None:
        self.send_response(301)
        self.send_header("Location", "/feed")
        self.end_headers()

    def route_error(self) -> None:
        self.send_error(503, "Service Unavailable")

    def route_slow(self) -> None:
        time.sleep(1.5)
        self.send_response(200)
        self.end_headers()


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.seen = []
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_first_fetch_returns_body_and_validators(server: str) -> None:
    result = fetch_url(server + "/feed", timeout=5, max_bytes=10_000)
    assert result == FetchResult(
        status=200,
        body=FEED,
        etag=ETAG,
        last_modified=LAST_MODIFIED,
        content_type="application/rss+xml; charset=utf-8",
    )
    assert "If-None-Match" not in Handler.seen[0]
    assert Handler.seen[0]["Accept-Encoding"] == "identity"


def test_conditional_get_returns_304_with_empty_body(server: str) -> None:
    state = FeedFetchState()
    first = fetch_url(server + "/feed", etag=state.etag, last_modified=state.last_modified)
    state = state.after(first)
    assert state == FeedFetchState(etag=ETAG, last_modified=LAST_MODIFIED)

    second = fetch_url(server + "/feed", etag=state.etag, last_modified=state.last_modified)
    assert second.status == 304
    assert second.not_modified
    assert second.body == b""
    assert Handler.seen[-1]["If-None-Match"] == ETAG
    assert Handler.seen[-1]["If-Modified-Since"] == LAST_MODIFIED
    assert state.after(second) == state  # a 304 keeps the validators


def test_last_modified_alone_is_enough(server: str) -> None:
    result = fetch_url(server + "/feed", last_modified=LAST_MODIFIED)
    assert result.status == 304
    assert result.last_modified == LAST_MODIFIED  # carried over from the request


def test_request_headers_helper() -> None:
    assert FeedFetchState().request_headers() == {}
    assert FeedFetchState(etag='"a"', last_modified="x").request_headers() == {
        "If-None-Match": '"a"',
        "If-Modified-Since": "x",
    }


def test_new_response_replaces_validators() -> None:
    fresh = FetchResult(status=200, body=b"", etag=None, last_modified="y", content_type=None)
    assert FeedFetchState(etag='"old"').after(fresh) == FeedFetchState(last_modified="y")


def test_body_over_max_bytes_is_refused_by_content_length(server: str) -> None:
    with pytest.raises(FetchError, match="200000 bytes, over 1000"):
        fetch_url(server + "/big", max_bytes=1000)


def test_body_over_max_bytes_is_refused_while_streaming(server: str) -> None:
    with pytest.raises(FetchError, match="larger than 100000 bytes"):
        fetch_url(server + "/big-no-length", max_bytes=100_000)


def test_redirects_are_followed_only_to_http(server: str) -> None:
    assert fetch_url(server + "/redirect-feed").body == FEED
    # urllib itself refuses file:, but would follow ftp: (and read it) without our handler
    with pytest.raises(FetchError, match="refused redirect to a non-HTTP URL: ftp://"):
        fetch_url(server + "/redirect-ftp")
    with pytest.raises(FetchError, match="not allowed"):
        fetch_url(server + "/redirect-file")


def test_http_errors_raise_with_the_status(server: str) -> None:
    with pytest.raises(FetchError, match="HTTP 503") as info:
        fetch_url(server + "/error")
    assert info.value.status == 503


def test_timeout(server: str) -> None:
    # The server answers 200 after 1.5 s, so an error here can only be the 0.3 s timeout.
    with pytest.raises(FetchError, match="could not fetch"):
        fetch_url(server + "/slow", timeout=0.3)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)", "/relative"]
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        fetch_url(url)


def test_connection_refused_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="could not fetch"):
        fetch_url("http://127.0.0.1:9/feed", timeout=2)
