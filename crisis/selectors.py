"""Reads of the incident core shared by views, API and health."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import Max, QuerySet
from django.utils import timezone

from crisis.models import Heartbeat
from crisis.roles import ROLE_LABELS, ROLES


def heartbeat_latest(*, service: str) -> datetime | None:
    return Heartbeat.objects.filter(service=service).aggregate(latest=Max("beat_at"))["latest"]


def heartbeat_is_fresh(*, service: str, max_age_seconds: float) -> tuple[bool, datetime | None]:
    latest = heartbeat_latest(service=service)
    if latest is None:
        return False, None
    return timezone.now() - latest <= timedelta(seconds=max_age_seconds), latest


def user_roles(user: User) -> list[str]:
    """The role codes of ``user`` in a stable order."""
    names = {g.name for g in user.groups.all()}
    return [role for role in ROLES if role in names]


def user_role_labels(user: User) -> list[str]:
    return [str(ROLE_LABELS[r]) for r in user_roles(user)]


def users_with_roles() -> QuerySet[User]:
    return User.objects.filter(is_active=True).prefetch_related("groups").order_by("username")
