"""Demo users for the incident core: one per role."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.db import transaction

DEMO_USERS = [
    # username, role group, display name
    ("analyst", "analyst", "林悦"),
    ("duty", "duty_officer", "王磊"),
    ("manager", "manager", "陈静"),
    ("legal", "legal", "赵敏"),
    ("executive", "executive", "周正"),
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
            # Chinese names are written whole; get_full_name() then shows them as written.
            user = User.objects.create_user(
                username=username,
                password=chosen,
                first_name=display,
                email=f"{username}@fenghuo.local",
            )
            user.groups.add(Group.objects.get(name=role))
            created.append(username)
    return DemoSeedResult(created=created, password=chosen if created else None)
