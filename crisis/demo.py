"""Demo users for the incident core: one per role."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.db import transaction

DEMO_USERS = [
    # username, role group, display name
    ("analyst", "analyst", "林舆情"),
    ("duty", "duty_officer", "值班 王"),
    ("manager", "manager", "陈经理"),
    ("legal", "legal", "法务 赵"),
    ("executive", "executive", "高管 周"),
]


@dataclass(frozen=True)
class DemoSeedResult:
    created: list[str]
    password: str | None


def seed_users(*, password: str | None) -> DemoSeedResult:
    """Create the demo users that do not exist yet; existing ones keep their password."""
    chosen = password or secrets.token_urlsafe(9)
    created: list[str] = []
    with transaction.atomic():
        for username, role, display in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                continue
            first, _sep, last = display.partition(" ")
            user = User.objects.create_user(
                username=username,
                password=chosen,
                first_name=last or display,
                last_name=first if last else "",
                email=f"{username}@fenghuo.local",
            )
            user.groups.add(Group.objects.get(name=role))
            created.append(username)
    return DemoSeedResult(created=created, password=chosen if created else None)
