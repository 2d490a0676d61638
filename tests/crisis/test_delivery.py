"""Ledger row → delivery → recorded outcome, against a local HTTP server that records the
requests (the backends' exact payloads are tested with crisis/channels)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail

from crisis import services
from crisis.channels import verify_webhook_signature
from crisis.models import Delivery, GroupWebhook
from tests.crisis.factories import T0, open_incident, shift


class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0  # answer 503 to this many requests first


@pytest.fixture
def http_server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            recorder.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": body}
            )
            if recorder.fail_next > 0:
                recorder.fail_next -= 1
                self.send_response(503)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode": 0, "code": 0, "StatusCode": 0}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    server.shutdown()
    server.server_close()


def test_breach_reaches_group_webhook_signed_and_outcome_is_recorded(
    db: Any,
    duty_officer: User,
    manager: User,
    http_server: tuple[str, Recorder],
    django_capture_on_commit_callbacks: Any,
) -> None:
    base, recorder = http_server
    GroupWebhook.objects.create(
        name="危机群", audience="team", kind="webhook", address=f"{base}/hook", secret="s3cret"
    )
    manager.email = "boss@example.com"
    manager.save()
    shift(duty_officer, "primary", T0 - timedelta(hours=1))
    open_incident(title="<b>谣言</b>")
    with django_capture_on_commit_callbacks(execute=True):
        services.sla_scan(now=T0 + timedelta(minutes=31))
    hook_delivery = Delivery.objects.get(
        group_webhook__isnull=False,
        notification__level="breach",
        notification__milestone__kind="monitoring_started",
    )
    assert hook_delivery.status == "sent" and hook_delivery.status_code == 200
    assert hook_delivery.attempts == 1
    request = next(r for r in recorder.requests if r["path"] == "/hook")
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert verify_webhook_signature(
        secret="s3cret",
        timestamp=headers["x-fenghuo-timestamp"],
        body=request["body"],
        signature=headers["x-fenghuo-signature"],
    )
    payload = json.loads(request["body"])
    assert "<b>谣言</b>" in json.dumps(payload, ensure_ascii=False)
    # the manager got the breach by e-mail as well
    email = Delivery.objects.get(
        user=manager,
        channel="email",
        notification__level="breach",
        notification__milestone__kind="monitoring_started",
    )
    assert email.status == "sent"
    assert any("boss@example.com" in m.to for m in mail.outbox)


def test_transient_failure_is_retried_later_and_then_sent(
    db: Any,
    duty_officer: User,
    http_server: tuple[str, Recorder],
    django_capture_on_commit_callbacks: Any,
) -> None:
    base, recorder = http_server
    services.user_channel_add(user=duty_officer, kind="webhook", address=f"{base}/me")
    shift(duty_officer, "primary", T0 - timedelta(hours=1))
    recorder.fail_next = 2  # both in-task attempts fail
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident()
    delivery = Delivery.objects.get(channel="webhook", notification__incident=incident)
    # the in-task retry sleeps; the test run used the real 1 s backoff of one retry
    assert delivery.status == "retry" and delivery.next_attempt_at is not None
    assert delivery.detail
    before = delivery.next_attempt_at - timedelta(seconds=1)
    assert services.deliveries_release_due(now=before) == []
    due = services.deliveries_release_due(now=delivery.next_attempt_at)
    assert due == [delivery.pk]
    services.delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 2
    # a duplicate task for a sent delivery does nothing
    assert services.delivery_attempt(delivery_id=delivery.pk) is None
    assert len([r for r in recorder.requests if r["path"] == "/me"]) == 3


def test_permanent_failure_is_recorded_not_retried(
    db: Any,
    duty_officer: User,
    http_server: tuple[str, Recorder],
    django_capture_on_commit_callbacks: Any,
) -> None:
    base, _recorder = http_server
    services.user_channel_add(user=duty_officer, kind="webhook", address=f"{base}/me")
    Delivery.objects.all().delete()
    shift(duty_officer, "primary", T0 - timedelta(hours=1))
    from crisis.models import UserChannel

    UserChannel.objects.filter(user=duty_officer).update(address="ftp://nowhere")
    with django_capture_on_commit_callbacks(execute=True):
        open_incident()
    delivery = Delivery.objects.get(channel="webhook")
    assert delivery.status == "failed" and delivery.next_attempt_at is None
