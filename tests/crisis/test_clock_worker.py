"""A real Celery worker on Redis and PostgreSQL runs the clock scan: a worker stopped past a
deadline and restarted records the breach once, late but not lost."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crisis import services
from crisis.models import Notification, SlaMilestone
from crisis.tasks import scan_clocks
from tests.conftest import make_user, wait_until

pytestmark = pytest.mark.slow


def test_breach_after_worker_restart_is_recorded_once(
    celery_worker_process: Any, require_postgres: None
) -> None:
    """The test drives the clock, not the wall: the deadline is moved into the past while no
    worker runs, so it does not matter how long a worker takes to start on a busy machine."""
    make_user("boss", "manager")
    now = timezone.now()
    # monitoring_started (30 min) falls due in 10 minutes: two thirds gone, the 50 % warning
    # is due, the breach is far away however slowly the worker starts.
    incident = services.incident_open(
        title="t", summary="s", detected_at=now - timedelta(minutes=20)
    )
    milestone = SlaMilestone.objects.get(incident=incident, kind="monitoring_started")
    worker = celery_worker_process()
    scan_clocks.delay()
    assert wait_until(
        lambda: Notification.objects.filter(milestone=milestone).exists(), timeout=120
    ), worker.output()
    assert not Notification.objects.filter(milestone=milestone, level="breach").exists()
    worker.stop()
    # The deadline passes while no worker runs; scans queued now wait in Redis.
    due_at = timezone.now() - timedelta(seconds=1)
    # (next_check_at is when the scanner looks next: the deadline itself, now in the past.)
    SlaMilestone.objects.filter(pk=milestone.pk).update(due_at=due_at, next_check_at=due_at)
    scan_clocks.delay()
    assert not Notification.objects.filter(milestone=milestone, level="breach").exists()
    second = celery_worker_process()
    scan_clocks.delay()
    assert wait_until(
        lambda: Notification.objects.filter(milestone=milestone, level="breach").exists(),
        timeout=120,
    ), second.output()
    scan_clocks.delay()
    scan_clocks.delay()
    # The duplicates must write nothing: wait until the queue is empty, then count.
    import redis

    from crisis.celery import app

    broker = redis.Redis.from_url(app.conf.broker_url)

    def queue_drained() -> bool:
        return int(broker.llen(app.conf.task_default_queue)) == 0

    assert wait_until(queue_drained, timeout=60)
    time.sleep(1)  # the last scan taken off the queue finishes
    breaches = Notification.objects.filter(milestone=milestone, level="breach")
    assert breaches.count() == 1
    assert breaches.get().created_at >= due_at
