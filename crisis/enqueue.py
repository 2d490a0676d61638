"""Sending work to the Celery worker from services, without importing tasks.

Services say *what* should run (a task name and its arguments); this module sends it once
the transaction commits. Every task's work is recorded in the database first (an inbox row,
a ledger row, a clock), and a periodic sweep finds work whose message never reached a
worker. So a broker that is away must not fail the request that recorded the work: the send
is skipped, the broker failure is logged once per outage (not once per request), and the
sweep picks the work up when the broker is back.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

# Errors that mean "the broker cannot take the message now". Kombu raises its own
# OperationalError for connection failures, redis-py its ConnectionError / TimeoutError,
# and the socket layer OSError.
_lock = threading.Lock()
_down_since: float | None = None
_skipped = 0


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError

    errors: list[type[BaseException]] = [OperationalError, OSError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        errors += [RedisConnectionError, RedisTimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    return tuple(errors)


def send_now(task_name: str, *args: Any, **options: Any) -> bool:
    """Send ``task_name(*args)`` to the broker now. False (and one log line per outage) when
    the broker is unreachable; the caller's work must be findable by a sweep."""
    global _down_since, _skipped
    from crisis.celery import app

    try:
        app.send_task(task_name, args=list(args), **options)
    except _broker_errors() as exc:
        with _lock:
            first = _down_since is None
            if first:
                _down_since = time.monotonic()
            _skipped += 1
        if first:
            logger.error(
                "broker unreachable, %s not sent (work stays recorded; the sweep sends it "
                "when the broker is back; further failures are counted, not logged): %s: %s",
                task_name,
                type(exc).__name__,
                exc,
            )
        return False
    if _down_since is not None:
        with _lock:
            if _down_since is not None:
                logger.warning(
                    "broker reachable again after %.0f s; %d sends were skipped meanwhile",
                    time.monotonic() - _down_since,
                    _skipped,
                )
                _down_since, _skipped = None, 0
    return True


def send_on_commit(task_name: str, *args: Any, **options: Any) -> None:
    """Send ``task_name(*args)`` once the current transaction commits (at once outside one).

    Under ``CELERY_TASK_ALWAYS_EAGER`` (tests) the task runs in this process instead; its
    errors propagate as they would from ``.delay``.
    """
    transaction.on_commit(lambda: _dispatch(task_name, args, options))


def _dispatch(task_name: str, args: tuple[Any, ...], options: dict[str, Any]) -> None:
    from crisis.celery import app

    if app.conf.task_always_eager:
        app.tasks[task_name].apply(args=tuple(args), throw=True)
        return
    send_now(task_name, *args, **options)


def broker_outage() -> dict[str, Any] | None:
    """This process's view of a broker outage: since when (seconds ago) and how many sends
    were skipped; None while sends go through."""
    with _lock:
        if _down_since is None:
            return None
        return {"seconds": time.monotonic() - _down_since, "skipped": _skipped}
