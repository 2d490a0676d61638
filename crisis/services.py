"""Every write of the incident core goes through a function here."""

from __future__ import annotations

import os
import socket

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from crisis.models import Heartbeat
from crisis.roles import ROLES


def heartbeat_record(*, service: str) -> Heartbeat:
    """Record that ``service`` (worker or beat) on this host and process is alive."""
    node = f"{socket.gethostname()}:{os.getpid()}"
    beat, _created = Heartbeat.objects.update_or_create(
        service=service,
        node=node,
        defaults={"pid": os.getpid(), "beat_at": timezone.now()},
    )
    return beat


def user_set_roles(*, user: User, roles: list[str], actor: User) -> User:
    """Replace ``user``'s role groups with ``roles``; other groups are left alone."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        role_groups = Group.objects.filter(name__in=ROLES)
        user.groups.remove(*role_groups)
        user.groups.add(*Group.objects.filter(name__in=roles))
    return user
