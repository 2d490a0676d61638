"""The Celery app, plus the heartbeats that /healthz reads.

The worker writes its heartbeat from a thread started by a bootstep, and beat from its
scheduler's tick, both into the database: a heartbeat there is visible to every web process
on every machine, whatever the broker (the embedded SQLite broker has no broadcast, so
``control.ping`` cannot be used). A heartbeat proves a process is alive, not that work
moves: /healthz also times a probe task through the broker (``crisis.health_probe``).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import Celery, bootsteps
from celery.beat import PersistentScheduler
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crisis.settings")
logger = logging.getLogger(__name__)
# ``sqlite://`` is the embedded broker (crisis/broker.py), the default without Redis.
TRANSPORT_ALIASES.setdefault("sqlite", "crisis.broker:Transport")

app = Celery("fenghuo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _collect_beat_schedules(sender: Celery, **kwargs: Any) -> None:
    """Periodic work is defined in code next to the task: each app's ``tasks.BEAT_SCHEDULE``.

    Entries look like ``{"name": {"task": "...", "schedule": 5.0, "options": {"expires": 5}}}``;
    an expiry is expected on every entry so a backlog after downtime does not run stale scans.
    """
    from importlib import import_module

    from django.apps import apps

    schedule = dict(sender.conf.beat_schedule or {})
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.tasks")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.tasks":
                raise
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    sender.conf.beat_schedule = schedule


# The worker's main process forks its pool children (at start, and again whenever one is
# replaced) while the heartbeat thread may be in the middle of a database call. A child
# forked then inherits SQLite's in-memory lock state of that call: it believes it holds
# locks it does not, and every write it tries waits out the busy timeout and fails ("database
# is locked", seen in a soak: one of the two children never stored anything). So the thread
# does its database work under this lock, closes its connection before letting go, and a
# fork waits for it: no connection is open, and no lock held, in the parent while it forks.
fork_guard = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=fork_guard.acquire,
        after_in_parent=fork_guard.release,
        after_in_child=fork_guard.release,
    )


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Writes the worker's heartbeat every HEARTBEAT_INTERVAL seconds from its own thread
    (in the main process, so it shows the worker alive even while every child is busy)."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, parent: Any) -> None:
        from django.conf import settings

        interval = float(settings.HEARTBEAT_INTERVAL)
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="fenghuo-heartbeat", daemon=True
        )
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            beat_once()
            self._stop.wait(interval)

    def stop(self, parent: Any) -> None:
        self._stop.set()


def beat_once() -> None:
    """One worker heartbeat, fork-safe (see ``fork_guard``)."""
    from django.db import connection

    from crisis.services import heartbeat_record

    with fork_guard:
        try:
            heartbeat_record(service="worker")
        except Exception as exc:  # noqa: BLE001 - a dead database must not kill the worker
            logger.warning("worker heartbeat not written: %s: %s", type(exc).__name__, exc)
        finally:
            connection.close()


app.steps["worker"].add(WorkerHeartbeat)


class HeartbeatScheduler(PersistentScheduler):
    """Beat's scheduler, writing beat's heartbeat as it ticks."""

    _last_beat = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        import time

        from django.conf import settings

        now = time.monotonic()
        interval = float(settings.HEARTBEAT_INTERVAL)
        if now - self._last_beat >= interval:
            from django.db import connection

            from crisis.services import heartbeat_record

            try:
                heartbeat_record(service="beat")
                self._last_beat = now
            except Exception:  # noqa: BLE001 - keep scheduling even if the DB is briefly away
                connection.close()
        return min(super().tick(*args, **kwargs), interval)
