from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from django.utils import timezone

from crisis.models import Heartbeat
from crisis.services import heartbeat_record
from tests.conftest import wait_until


def _health(client: Any) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    return response.status_code, json.loads(response.content)


def test_healthz_ok_when_every_check_passes(client: Any, db: Any) -> None:
    heartbeat_record(service="worker")
    heartbeat_record(service="beat")
    heartbeat_record(service="roundtrip")
    status, body = _health(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "worker", "beat", "queue", "inbox"}
    assert "reasons" not in body
    assert all(check["ok"] for check in body["checks"].values())


def test_healthz_degraded_without_heartbeats(client: Any, db: Any) -> None:
    status, body = _health(client)
    assert status == 503
    assert body["status"] == "degraded"
    assert body["checks"]["worker"] == {
        "ok": False,
        "detail": "no heartbeat yet",
        "last_seen": None,
    }
    assert body["checks"]["database"]["ok"] is True


def test_stale_beat_heartbeat_is_degraded(client: Any, db: Any) -> None:
    heartbeat_record(service="worker")
    Heartbeat.objects.create(
        service="beat", node="old:1", pid=1, beat_at=timezone.now() - timedelta(minutes=5)
    )
    status, body = _health(client)
    assert status == 503
    assert body["checks"]["beat"]["ok"] is False
    assert body["checks"]["worker"]["ok"] is True


def test_stopped_real_worker_is_reported_degraded(
    client: Any, celery_worker_process: Any, settings: Any
) -> None:
    settings.HEARTBEAT_MAX_AGE = 3
    heartbeat_record(service="beat")
    heartbeat_record(service="roundtrip")
    worker = celery_worker_process(HEARTBEAT_INTERVAL="0.5")
    assert wait_until(lambda: _health(client)[1]["checks"]["worker"]["ok"], timeout=60), (
        worker.output()
    )
    heartbeat_record(service="beat")
    assert _health(client)[0] == 200

    worker.stop()
    time.sleep(3.5)
    heartbeat_record(service="beat")
    status, body = _health(client)
    assert status == 503
    assert body["status"] == "degraded"
    assert body["checks"]["worker"]["ok"] is False
    assert "no heartbeat" in body["checks"]["worker"]["detail"]
