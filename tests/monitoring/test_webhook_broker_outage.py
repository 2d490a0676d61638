"""A push while the broker is away: answered 202 once the payload is stored, the broker
failure logged once per outage, and the payload sent to the worker by the sweep once the
broker is back. Runs against a private redis-server that the test stops and starts."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import Client

from crisis import enqueue
from crisis.celery import app
from monitoring import services
from monitoring.models import RawItem, Source
from tests.conftest import _need, free_port, wait_until

TOKEN = "outage-push-token-0123456789abcdef"
URL = "/api/v1/sources/outage/mentions"

pytestmark = pytest.mark.django_db(transaction=True)


class PrivateRedis:
    def __init__(self, port: int, folder: Path) -> None:
        self.port = port
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1)
        assert wait_until(lambda: self._ping(client), timeout=20)

    @staticmethod
    def _ping(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def queue_length(self, queue: str) -> int:
        return int(redis.Redis(port=self.port).llen(queue))


def _reset_producers() -> None:
    app.amqp._producer_pool = None
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None


@pytest.fixture
def private_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateRedis]:
    _need(shutil.which("redis-server") is not None, "redis-server")
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    # Celery prefers the CELERY_BROKER_URL variable (set by the test plugin) to its setting.
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{server.port}/0")
    app.conf.broker_url = f"redis://127.0.0.1:{server.port}/0"
    app.conf.task_always_eager = False
    _reset_producers()
    yield server
    server.stop()
    app.conf.broker_url, app.conf.task_always_eager = saved
    _reset_producers()
    enqueue._down_since, enqueue._skipped = None, 0


@pytest.fixture
def source() -> Source:
    source, _token = services.source_create(
        name="Outage", slug="outage", kind=Source.Kind.WEBHOOK, platform="weibo"
    )
    return services.source_set_token(source=source, token=TOKEN)


def _push(client: Client, external_id: str) -> Any:
    body = json.dumps(
        [
            {
                "external_id": external_id,
                "platform": "weibo",
                "text": "茶小满新品太甜了",
                "posted_at": "2026-11-24T10:00:00+08:00",
            }
        ]
    )
    return client.post(
        URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )


def test_push_during_a_broker_outage_is_accepted_and_sent_when_the_broker_returns(
    client: Client,
    source: Source,
    private_redis: PrivateRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = app.conf.task_default_queue
    response = _push(client, "before")
    assert response.status_code == 202, response.content
    assert private_redis.queue_length(queue) == 1

    private_redis.stop()
    caplog.set_level(logging.WARNING, logger="crisis.enqueue")
    accepted = [_push(client, f"during-{i}") for i in range(3)]
    assert [r.status_code for r in accepted] == [202, 202, 202]
    during = RawItem.objects.filter(pk__in=[r.json()["inbox_id"] for r in accepted])
    assert {row.status for row in during} == {RawItem.Status.PENDING}
    outage_lines = [r for r in caplog.records if "broker unreachable" in r.getMessage()]
    assert len(outage_lines) == 1  # once per outage, not once per request

    private_redis.start()
    time.sleep(0.1)
    # The sweep finds what waited and sends it; the first send logs the recovery.
    stale = services.inbox_stale_ids(older_than_seconds=0)
    assert {r.json()["inbox_id"] for r in accepted} <= set(stale)
    for raw_item_id in stale:
        assert enqueue.send_now("monitoring.inbox_process", raw_item_id)
    assert private_redis.queue_length(queue) == len(stale)
    assert any("broker reachable again" in r.getMessage() for r in caplog.records)
    assert enqueue.broker_outage() is None
