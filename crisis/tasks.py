from __future__ import annotations

from celery import shared_task

from crisis import services


@shared_task(name="crisis.diagnostics_roundtrip", ignore_result=True)
def diagnostics_roundtrip(token: str) -> None:
    """Proves a worker can reach the database: writes a heartbeat named after ``token``.

    Idempotent: a second delivery only refreshes the same row.
    """
    services.heartbeat_record(service=f"roundtrip:{token}"[:32])

# Periodic work of this app, collected by crisis/celery.py.
BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
