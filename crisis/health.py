"""The checks behind /healthz: database, broker, worker, beat, and whether work moves.

Liveness is not enough: a worker whose heartbeat thread runs while its consumer is stuck
looks alive. So two checks judge progress: ``queue`` (a probe task sent by beat through the
broker every few seconds has come back recently) and the checks that upper apps register
(monitoring adds ``inbox``: the oldest payload still waiting to be processed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection

from crisis.selectors import heartbeat_is_fresh

Check = Callable[[], dict[str, Any]]
_registered: dict[str, Check] = {}

PROBE_SERVICE = "roundtrip"


def register_check(name: str, check: Check) -> None:
    """Add a check to /healthz. Apps above crisis call this from ``AppConfig.ready`` (crisis
    does not import them). A check returns ``{"ok": bool, "detail": str, ...}``."""
    _registered[name] = check


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ok", with its text
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "detail": connection.vendor}


def check_broker() -> dict[str, Any]:
    from crisis.celery import app

    url = app.conf.broker_url or ""
    transport = url.split("://", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "detail": f"{transport}: {type(exc).__name__}: {exc}"}
    report: dict[str, Any] = {"ok": True, "detail": transport}
    if transport == "sqlite":
        from crisis.broker import queue_stats

        try:
            report.update(queue_stats(app.conf.broker_transport_options["path"]))
        except Exception as exc:  # noqa: BLE001 - the counts are extra information
            report["stats_error"] = f"{type(exc).__name__}: {exc}"
    return report


def check_heartbeat(service: str) -> dict[str, Any]:
    max_age = float(settings.HEARTBEAT_MAX_AGE)
    try:
        fresh, latest = heartbeat_is_fresh(service=service, max_age_seconds=max_age)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "detail": f"cannot read heartbeats: {type(exc).__name__}"}
    if latest is None:
        return {"ok": False, "detail": "no heartbeat yet", "last_seen": None}
    detail = "alive" if fresh else f"no heartbeat for more than {max_age:g}s"
    return {"ok": fresh, "detail": detail, "last_seen": latest.isoformat()}


def check_queue() -> dict[str, Any]:
    """Has a probe task gone from beat through the broker to a worker recently?"""
    max_delay = float(settings.HEALTH_QUEUE_MAX_DELAY)
    # Probes leave every 5 s and may each wait up to max_delay in the queue: the last one
    # back is older than max_delay + 10 s only when the queue is slower than max_delay.
    try:
        fresh, latest = heartbeat_is_fresh(service=PROBE_SERVICE, max_age_seconds=max_delay + 10)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "detail": f"cannot read probes: {type(exc).__name__}"}
    if latest is None:
        return {"ok": False, "detail": "no probe task has come back yet", "last_seen": None}
    detail = (
        "moving"
        if fresh
        else f"no probe task has come back through the broker for more than {max_delay + 10:g}s"
    )
    return {"ok": fresh, "detail": detail, "last_seen": latest.isoformat()}


def _guarded(check: Check) -> dict[str, Any]:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a broken check reports, it does not 500
        return {"ok": False, "detail": f"check failed: {type(exc).__name__}: {exc}"}


def health_report() -> tuple[bool, dict[str, Any]]:
    checks = {
        "database": check_database(),
        "broker": check_broker(),
        "worker": check_heartbeat("worker"),
        "beat": check_heartbeat("beat"),
        "queue": check_queue(),
    }
    for name, check in _registered.items():
        checks[name] = _guarded(check)
    ok = all(c["ok"] for c in checks.values())
    reasons = [f"{name}: {c['detail']}" for name, c in checks.items() if not c["ok"]]
    report: dict[str, Any] = {"status": "ok" if ok else "degraded", "checks": checks}
    if reasons:
        report["reasons"] = reasons
    return ok, report
