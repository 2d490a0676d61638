from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.utils import translation

from crisis.channels import ChannelTarget, Message, deliver_with_retry, verify_webhook_signature
from crisis.channels.webhook import WebhookBackend
from tests.crisis.test_channels_http import FakeVendor, Reply

MESSAGE = Message(
    title="【严重】SLA 即将超时：首次声明 · 某某事件",
    body="首次声明时限 16:00。\n请值班员确认。",
    level="critical",
    url="https://fenghuo.example.com/incidents/42/",
    ack_url="https://fenghuo.example.com/ack/abc.def/",
    dedupe_key="incident:42:sla:statement:warning",
)
SECRET = "whsec-3b1f0c8e9d"
NOW = 1_700_000_000


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def target(vendor: FakeVendor, *, secret: str = SECRET) -> ChannelTarget:
    return ChannelTarget(kind="webhook", address=f"{vendor.url}/hooks/fenghuo", secret=secret)


def test_posts_the_signed_json_payload() -> None:
    with FakeVendor(Reply(200, b"ok")) as vendor:
        result = WebhookBackend().send(target=target(vendor), message=MESSAGE, now=NOW + 0.7)
    (request,) = vendor.requests
    assert (request.method, request.path) == ("POST", "/hooks/fenghuo")
    assert request.json() == {
        "event": "fenghuo.notification",
        "title": "【严重】SLA 即将超时：首次声明 · 某某事件",
        "body": "首次声明时限 16:00。\n请值班员确认。",
        "level": "critical",
        "url": "https://fenghuo.example.com/incidents/42/",
        "ack_url": "https://fenghuo.example.com/ack/abc.def/",
        "dedupe_key": "incident:42:sla:statement:warning",
        "sent_at": "2023-11-14T22:13:20+00:00",
    }
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-fenghuo-timestamp"] == "1700000000"
    assert request.headers["idempotency-key"] == "incident:42:sla:statement:warning"
    # Recomputed from the raw bytes received, as a receiver would.
    mac = hmac.new(SECRET.encode(), b"1700000000." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-fenghuo-signature"] == f"sha256={mac}"
    assert (result.ok, result.transient, result.status_code) == (True, False, 200)
    assert result.detail == "webhook: HTTP 200"
    assert result.request_body.encode() == request.body
    assert SECRET not in result.request_body


def test_receiver_verification() -> None:
    with FakeVendor(Reply(204)) as vendor:
        WebhookBackend().send(target=target(vendor), message=MESSAGE, now=NOW)
    request = vendor.requests[0]
    timestamp = request.headers["x-fenghuo-timestamp"]
    signature = request.headers["x-fenghuo-signature"]
    assert verify_webhook_signature(SECRET, timestamp, request.body, signature, now=NOW + 10)
    assert verify_webhook_signature(
        SECRET, timestamp, request.body.decode(), signature, now=NOW + 10
    )
    # Each of these must fail: tampered body, wrong secret, replayed late, forged timestamp.
    assert not verify_webhook_signature(SECRET, timestamp, request.body + b" ", signature, now=NOW)
    assert not verify_webhook_signature("other", timestamp, request.body, signature, now=NOW)
    assert not verify_webhook_signature(SECRET, timestamp, request.body, signature, now=NOW + 301)
    assert not verify_webhook_signature(SECRET, str(NOW + 5), request.body, signature, now=NOW)
    assert not verify_webhook_signature(SECRET, "soon", request.body, signature, now=NOW)
    assert not verify_webhook_signature(SECRET, timestamp, request.body, signature[7:], now=NOW)
    assert verify_webhook_signature(
        SECRET, timestamp, request.body, signature, tolerance=600, now=NOW + 500
    )


def test_without_a_secret_there_is_no_signature_and_unsafe_links_are_null() -> None:
    message = Message(
        title="t\r\n\x00x", body="b\u202e", level="info", url="javascript:alert(1)", ack_url=""
    )
    with FakeVendor(Reply(200)) as vendor:
        WebhookBackend().send(target=target(vendor, secret=""), message=message, now=NOW)
    request = vendor.requests[0]
    assert "x-fenghuo-signature" not in request.headers
    assert "idempotency-key" not in request.headers
    body = request.json()
    assert (body["title"], body["body"], body["url"], body["ack_url"]) == ("t x", "b", None, None)


def test_dedupe_key_cannot_inject_a_header() -> None:
    message = Message(title="t", body="", level="info", dedupe_key="k1\r\nX-Evil: 1")
    with FakeVendor(Reply(200)) as vendor:
        result = WebhookBackend().send(target=target(vendor), message=message, now=NOW)
    assert result.ok
    assert vendor.requests[0].headers["idempotency-key"] == "k1X-Evil: 1"
    assert "x-evil" not in vendor.requests[0].headers


def test_client_error_is_permanent_and_sent_once() -> None:
    with FakeVendor(Reply(404, b"no such hook")) as vendor:
        sleeps: list[float] = []
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=sleeps.append)
    assert (result.ok, result.transient, result.status_code) == (False, False, 404)
    assert result.detail == "webhook: HTTP 404: no such hook"
    assert len(vendor.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_transient_status_is_retried_then_succeeds(status: int) -> None:
    with FakeVendor(Reply(status), Reply(202)) as vendor:
        sleeps: list[float] = []
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=sleeps.append)
    assert (result.ok, result.status_code) == (True, 202)
    assert len(vendor.requests) == 2
    assert sleeps == [1]
    # Same ledger key on both attempts, so the receiver can drop the duplicate.
    keys = {r.headers["idempotency-key"] for r in vendor.requests}
    assert keys == {"incident:42:sla:statement:warning"}


def test_retries_stop_after_the_attempts_with_the_backoff_in_order() -> None:
    with FakeVendor(Reply(503, b"down")) as vendor:
        sleeps: list[float] = []
        result = deliver_with_retry(
            target=target(vendor), message=MESSAGE, attempts=5, backoff=(2, 7), sleep=sleeps.append
        )
    assert (result.ok, result.transient, result.detail) == (False, True, "webhook: HTTP 503: down")
    assert len(vendor.requests) == 5
    assert sleeps == [2, 7, 7, 7]


def test_redirect_is_not_followed() -> None:
    elsewhere = Reply(301, b"", headers={"Location": "http://127.0.0.1:1/internal"})
    with FakeVendor(elsewhere) as vendor:
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=lambda _s: None)
    assert (result.ok, result.transient, result.status_code) == (False, False, 301)
    assert "not followed" in result.detail
    assert len(vendor.requests) == 1


def test_slow_receiver_times_out_as_transient() -> None:
    with FakeVendor(Reply(200, delay=10)) as vendor:
        result = WebhookBackend(timeout=0.3).send(target=target(vendor), message=MESSAGE)
    assert (result.ok, result.transient, result.detail) == (
        False,
        True,
        "webhook: timed out after 0.3s",
    )
    assert json.loads(result.request_body)["title"] == MESSAGE.title


def test_validate_target_accepts_only_http_urls() -> None:
    backend = WebhookBackend()
    backend.validate_target(ChannelTarget(kind="webhook", address="https://hooks.example.com/x"))
    for address in ("hooks.example.com/x", "ftp://hooks.example.com/", "javascript:alert(1)"):
        with pytest.raises(ValueError, match="Enter an http:// or https:// URL"):
            backend.validate_target(ChannelTarget(kind="webhook", address=address))
