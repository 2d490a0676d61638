"""The checks behind /healthz: database, broker, worker and beat."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection

from crisis.selectors import heartbeat_is_fresh


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
    return {"ok": True, "detail": transport}


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


def health_report() -> tuple[bool, dict[str, Any]]:
    checks = {
        "database": check_database(),
        "broker": check_broker(),
        "worker": check_heartbeat("worker"),
        "beat": check_heartbeat("beat"),
    }
    ok = all(c["ok"] for c in checks.values())
    return ok, {"status": "ok" if ok else "degraded", "checks": checks}
