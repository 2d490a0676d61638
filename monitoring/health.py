"""Monitoring's check for /healthz: is the inbox being worked off?

A payload is stored before it is processed, so a queue that does not move shows up here as
the age of the oldest payload still pending, whatever the reason (broker away, worker stuck
or gone). Registered with ``crisis.health`` when the app is ready.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from monitoring.models import RawItem


def check_inbox() -> dict[str, Any]:
    max_delay = float(settings.HEALTH_QUEUE_MAX_DELAY)
    pending = RawItem.objects.filter(status=RawItem.Status.PENDING).aggregate(
        count=Count("pk"), oldest=Min("received_at")
    )
    count, oldest = int(pending["count"] or 0), pending["oldest"]
    if oldest is None:
        return {"ok": True, "detail": "nothing waiting", "pending": 0}
    age = (timezone.now() - oldest).total_seconds()
    ok = age <= max_delay
    detail = (
        f"{count} payload(s) waiting, the oldest for {age:.0f}s"
        if ok
        else f"{count} payload(s) waiting, the oldest for {age:.0f}s (more than {max_delay:g}s)"
    )
    return {"ok": ok, "detail": detail, "pending": count, "oldest_seconds": round(age, 1)}
