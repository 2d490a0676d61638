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
    make_user("boss", "manager")
    now = timezone.now()
    # monitoring_started falls due 3 seconds from now
    incident = services.incident_open(
        title="t", summary="s", detected_at=now - timedelta(minutes=30) + timedelta(seconds=3)
    )
    milestone = SlaMilestone.objects.get(incident=incident, kind="monitoring_started")
    worker = celery_worker_process()
    scan_clocks.delay()
    assert wait_until(
        lambda: Notification.objects.filter(milestone=milestone).exists(), timeout=60
    ), worker.output()
    assert not Notification.objects.filter(milestone=milestone, level="breach").exists()
    worker.stop()
    # the deadline passes while no worker runs; a scan queued now waits in Redis
    while timezone.now() <= milestone.due_at:
        time.sleep(0.2)
    scan_clocks.delay()
    assert not Notification.objects.filter(milestone=milestone, level="breach").exists()
    second = celery_worker_process()
    scan_clocks.delay()
    assert wait_until(
        lambda: Notification.objects.filter(milestone=milestone, level="breach").exists(),
        timeout=60,
    ), second.output()
    scan_clocks.delay()
    scan_clocks.delay()
    time.sleep(2)  # let the duplicates run; they must write nothing
    breaches = Notification.objects.filter(milestone=milestone, level="breach")
    assert breaches.count() == 1
    assert breaches.get().created_at >= milestone.due_at
