from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from crisis import services

logger = logging.getLogger(__name__)


@shared_task(name="crisis.diagnostics_roundtrip", ignore_result=True)
def diagnostics_roundtrip(token: str) -> None:
    """Proves a worker can reach the database: writes a heartbeat named after ``token``.

    Idempotent: a second delivery only refreshes the same row.
    """
    services.heartbeat_record(service=f"roundtrip:{token}"[:32])


@shared_task(name="crisis.health_probe", ignore_result=True)
def health_probe() -> None:
    """Sent by beat every few seconds; coming back proves the queue moves (/healthz
    ``queue``). It waits in line with the real work, so it measures the queue's delay; it
    expires after HEALTH_QUEUE_MAX_DELAY, so a backlog does not run a pile of stale probes."""
    from crisis.health import PROBE_SERVICE

    services.heartbeat_record(service=PROBE_SERVICE)


@shared_task(name="crisis.scan_clocks", ignore_result=True)
def scan_clocks() -> None:
    """Every few seconds: SLA warnings and breaches, escalation steps, delivery retries.

    Safe to run on several workers at once (SKIP LOCKED + the ledger's unique key). After
    downtime it drains the backlog in batches, so nothing due is lost.
    """
    for _round in range(20):
        written = services.sla_scan()
        escalated = services.escalation_scan()
        if written + escalated == 0:
            break
    for delivery_id in services.deliveries_release_due():
        deliver_notification.delay(delivery_id)


@shared_task(name="crisis.deliver_notification", ignore_result=True)
def deliver_notification(delivery_id: int) -> None:
    """Send one ledger delivery. Claims it first, so a duplicate task does nothing; a
    transient failure is retried later by scan_clocks (the retry time is on the row)."""
    delivery = services.delivery_attempt(delivery_id=delivery_id)
    if delivery is not None and delivery.status != "sent":
        logger.info(
            "delivery %s via %s: %s (%s)",
            delivery_id,
            delivery.channel,
            delivery.status,
            delivery.detail,
        )


# Periodic work of this app, collected by crisis/celery.py.
BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "crisis-health-probe": {
        "task": "crisis.health_probe",
        "schedule": 5.0,
        "options": {"expires": settings.HEALTH_QUEUE_MAX_DELAY},
    },
    "crisis-scan-clocks": {
        "task": "crisis.scan_clocks",
        "schedule": 2.0,
        "options": {"expires": 4},
    },
}
