"""The worker's heartbeat thread and the pool's forks: a child must never be forked while
the parent is inside a database call (the child would inherit SQLite's lock state and fail
every write with "database is locked")."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from crisis import celery as celery_module
from crisis.models import Heartbeat

pytestmark = pytest.mark.django_db


def test_the_heartbeat_writes_under_the_fork_guard_and_closes_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import connection

    import crisis.services

    seen: dict[str, Any] = {}
    original = crisis.services.heartbeat_record

    def spy(*, service: str) -> Any:
        seen["guarded"] = celery_module.fork_guard.locked()
        return original(service=service)

    closed: list[bool] = []
    monkeypatch.setattr(crisis.services, "heartbeat_record", spy)
    monkeypatch.setattr(connection, "close", lambda: closed.append(True))
    celery_module.beat_once()
    assert seen["guarded"] is True
    assert closed == [True]
    assert not celery_module.fork_guard.locked()
    assert Heartbeat.objects.filter(service="worker").exists()


def test_a_fork_waits_for_the_heartbeat_to_leave_the_database() -> None:
    """os.fork() takes the guard first: while the heartbeat holds it, the fork waits."""
    celery_module.fork_guard.acquire()
    forked = threading.Event()

    def fork() -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        forked.set()

    thread = threading.Thread(target=fork)
    thread.start()
    assert not forked.wait(0.5)  # held back while the guard is held
    celery_module.fork_guard.release()
    assert forked.wait(10)
    thread.join(10)
    assert not celery_module.fork_guard.locked()


def test_the_heartbeat_step_starts_after_the_pool() -> None:
    assert "celery.worker.components:Pool" in celery_module.WorkerHeartbeat.requires
