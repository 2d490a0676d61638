"""Polled sources against a real local HTTP server: conditional GET, mapping, health,
backoff, the page after N failures, one poll at a time, the sources page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from monitoring import services
from monitoring.models import Mention, RawItem, Source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"

pytestmark = pytest.mark.django_db


class FakeCollector:
    """A local HTTP server: each path serves (status, content type, body); an ETag is sent
    and an If-None-Match that matches is answered 304."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        self.requests: list[dict[str, str]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                collector.requests.append({"path": self.path, **dict(self.headers.items())})
                status, content_type, body = collector.routes.get(
                    self.path, (404, "text/plain", b"not found")
                )
                etag = f'"v{len(body)}"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if status == 200:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    server = FakeCollector()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(autouse=True)
def _run_on_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())


def poll(source: Source) -> RawItem | None:
    token = services.source_claim_poll_now(source=source)
    assert token
    return services.source_poll(source_id=source.pk, token=token)


def test_feed_poll_stores_mentions_and_uses_conditional_get(collector: FakeCollector) -> None:
    collector.routes["/feed"] = (
        200,
        "application/rss+xml",
        (FIXTURES / "rsshub_weibo.xml").read_bytes(),
    )
    source, _ = services.source_create(
        name="RSSHub",
        slug="rsshub",
        kind=Source.Kind.FEED,
        platform="weibo",
        url=collector.url("/feed"),
        interval_seconds=60,
    )
    raw = poll(source)
    assert raw is not None
    raw.refresh_from_db()
    assert raw.status == RawItem.Status.DONE and raw.channel == RawItem.Channel.POLL
    stored = Mention.objects.count()
    assert stored > 0
    assert all(m.source_id == source.pk for m in Mention.objects.all())
    assert "<script>" not in "".join(Mention.objects.values_list("text", flat=True))
    source.refresh_from_db()
    assert source.etag and source.last_success_at and source.consecutive_failures == 0
    assert source.next_poll_at > timezone.now() + timedelta(seconds=50)

    assert poll(source) is None  # 304: nothing new to store
    assert collector.requests[-1].get("If-None-Match") == source.etag
    assert RawItem.objects.count() == 1 and Mention.objects.count() == stored


def test_json_api_poll_with_mapping(collector: FakeCollector) -> None:
    collector.routes["/api"] = (
        200,
        "application/json",
        (FIXTURES / "weibo_api_mapping.json").read_bytes(),
    )
    mapping = {
        "items": "data.list",
        "external_id": "mid",
        "text": "text_raw",
        "posted_at": "created_at",
        "author.id": "user.idstr",
        "author.name": "user.screen_name",
        "author.followers": "user.followers_count",
        "metrics.likes": "attitudes_count",
        "metrics.reposts": "reposts_count",
        "metrics.comments": "comments_count",
    }
    source, _ = services.source_create(
        name="API",
        slug="api",
        kind=Source.Kind.JSON_API,
        platform="weibo",
        url=collector.url("/api"),
        mapping=mapping,
    )
    raw = poll(source)
    assert raw is not None
    raw.refresh_from_db()
    assert raw.status == RawItem.Status.DONE
    assert raw.created_count == 2 and len(raw.rejected) == 1
    mention = Mention.objects.get(external_id="5231600000000002")
    assert mention.author_name == "排队中" and mention.likes == 7


def test_failing_source_backs_off_and_pages_managers_once(
    collector: FakeCollector, manager: Any, settings: Any
) -> None:
    from crisis.models import Notification

    settings.SOURCE_PAGE_AFTER_FAILURES = 3
    collector.routes["/down"] = (503, "text/plain", b"maintenance")
    source, _ = services.source_create(
        name="Down",
        slug="down",
        kind=Source.Kind.FEED,
        platform="news",
        url=collector.url("/down"),
        interval_seconds=30,
    )
    delays = []
    for _attempt in range(5):
        assert poll(source) is None
        source.refresh_from_db()
        delays.append((source.next_poll_at - timezone.now()).total_seconds())
    assert source.consecutive_failures == 5
    assert "503" in source.last_error
    assert delays == sorted(delays) and delays[-1] > delays[0]
    pages = Notification.objects.filter(dedupe_key__contains="source-failing")
    assert pages.count() == 1  # one page per failure streak

    collector.routes["/down"] = (
        200,
        "application/rss+xml",
        (FIXTURES / "atom_news.xml").read_bytes(),
    )
    assert poll(source) is not None
    source.refresh_from_db()
    assert source.consecutive_failures == 0 and source.last_success_at


def test_malformed_feed_is_a_failure_with_the_parser_message(collector: FakeCollector) -> None:
    collector.routes["/bomb"] = (200, "application/xml", (FIXTURES / "xml_bomb.xml").read_bytes())
    source, _ = services.source_create(
        name="Bomb", slug="bomb", kind=Source.Kind.FEED, platform="news", url=collector.url("/bomb")
    )
    assert poll(source) is None
    source.refresh_from_db()
    assert source.consecutive_failures == 1 and "DOCTYPE" in source.last_error
    raw = RawItem.objects.get()
    assert raw.status == RawItem.Status.FAILED  # kept, with the reason
    assert Mention.objects.count() == 0


def test_one_poll_per_source_at_a_time(collector: FakeCollector) -> None:
    source, _ = services.source_create(
        name="F", slug="f", kind=Source.Kind.FEED, platform="news", url=collector.url("/x")
    )
    first = services.sources_claim_due()
    assert [sid for sid, _t in first] == [source.pk]
    assert services.sources_claim_due() == []  # leased
    assert services.source_claim_poll_now(source=source) is None  # "poll now" too
    # a stale token does nothing
    assert services.source_poll(source_id=source.pk, token="stale") is None
    assert collector.requests == []


def test_sources_page_shows_health_and_poll_now(
    client: Client, analyst: Any, collector: FakeCollector
) -> None:
    collector.routes["/feed"] = (
        200,
        "application/rss+xml",
        (FIXTURES / "rsshub_weibo.xml").read_bytes(),
    )
    source, _ = services.source_create(
        name="<b>RSS</b>",
        slug="rss",
        kind=Source.Kind.FEED,
        platform="weibo",
        url=collector.url("/feed"),
    )
    Source.objects.filter(pk=source.pk).update(
        consecutive_failures=2, last_error="<script>x</script> HTTP 500"
    )
    client.force_login(analyst)
    page = client.get("/monitoring/sources/").content.decode()
    assert "&lt;script&gt;x&lt;/script&gt; HTTP 500" in page
    assert "&lt;b&gt;RSS&lt;/b&gt;" in page
    response = client.post(f"/monitoring/sources/{source.pk}/poll")
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.consecutive_failures == 0 and Mention.objects.filter(source=source).exists()


def test_poll_now_needs_manage_sources(client: Client, duty_officer: Any) -> None:
    source, _ = services.source_create(
        name="F", slug="f", kind=Source.Kind.FEED, platform="news", url="http://127.0.0.1:9/x"
    )
    client.force_login(duty_officer)
    assert client.get("/monitoring/sources/").status_code == 200
    assert client.post(f"/monitoring/sources/{source.pk}/poll").status_code == 403
