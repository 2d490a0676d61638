"""Helpers shared by the incident-core tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from crisis import services
from crisis.models import DutyShift, Incident

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.get_fixed_timezone(480))


def open_incident(*, now: datetime = T0, **kwargs: Any) -> Incident:
    kwargs.setdefault("title", "微博谣言：产品含有害物质")
    kwargs.setdefault("summary", "A rumour is spreading on Weibo.")
    return services.incident_open(now=now, detected_at=kwargs.pop("detected_at", now), **kwargs)


def shift(user: User, position: str, start: datetime, hours: int = 24) -> DutyShift:
    return DutyShift.objects.create(
        user=user, position=position, start=start, end=start + timedelta(hours=hours)
    )
