from __future__ import annotations

import uuid
from typing import Any

from crisis.models import Heartbeat
from crisis.tasks import diagnostics_roundtrip
from tests.conftest import wait_until


def test_worker_on_redis_runs_a_task_that_writes_to_postgres(
    celery_worker_process: Any, require_postgres: None
) -> None:
    from crisis.celery import app

    assert app.conf.broker_url.startswith("redis://")
    worker = celery_worker_process()
    token = uuid.uuid4().hex[:12]
    diagnostics_roundtrip.delay(token)
    written = wait_until(
        lambda: Heartbeat.objects.filter(service=f"roundtrip:{token}").exists(), timeout=60
    )
    assert written, worker.output()
    row = Heartbeat.objects.get(service=f"roundtrip:{token}")
    assert row.pid == worker.proc.pid  # written by the worker process, not by this one
