"""Demo users for the incident core: one per role."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

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


def seed(*, stdout: Any) -> None:
    """The incident core's demo data: a 24-hour roster for the next 7 days (duty primary,
    manager backup), the default escalation policy, and a few incidents in different states.
    Safe to run twice: existing shifts and incidents are left alone."""
    from datetime import timedelta

    from django.utils import timezone

    from crisis import services
    from crisis.models import DutyShift, Incident

    users = {u.username: u for u in User.objects.filter(username__in=[d[0] for d in DEMO_USERS])}
    if "duty" not in users or "manager" not in users:
        stdout.write("Incident demo skipped: the demo users are missing.")
        return
    services.escalation_policy_ensure()
    now = timezone.localtime()
    day0 = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with transaction.atomic():
        for offset in range(8):  # today and the next 7 days, midnight to midnight
            start, end = day0 + timedelta(days=offset), day0 + timedelta(days=offset + 1)
            for position, username in (("primary", "duty"), ("backup", "manager")):
                if not DutyShift.objects.filter(
                    position=position, start__lt=end, end__gt=start
                ).exists():
                    DutyShift.objects.create(
                        user=users[username], position=position, start=start, end=end
                    )
    if Incident.objects.exists():
        stdout.write("Incident demo: incidents exist already; none added.")
        return
    analyst, duty, manager = users.get("analyst"), users["duty"], users["manager"]
    legal, executive = users.get("legal"), users.get("executive")
    # 1. Just detected: unacknowledged, its 30-minute clock running.
    services.incident_open(
        title="微博热搜：网传产品含有害物质",
        summary="一条称“产品检出有害物质”的微博 1 小时内转发过千，多个大V跟进。",
        crisis_type="false_information",
        severity="moderate",
        detected_at=now - timedelta(minutes=12),
        reporter=analyst,
        signals={
            "negative_volume": 420,
            "growth": 4.5,
            "reach": 2_300_000,
            "high_influence_authors": 4,
            "sensitive_hits": 1,
        },
    )
    # 2. Assessed, team forming; the initial statement is due within the hour.
    second = services.incident_open(
        title="客服投诉集中爆发：退款延迟",
        summary="小红书、黑猫投诉出现大量“退款 7 天未到账”的投诉。",
        crisis_type="complaint_outbreak",
        severity="minor",
        detected_at=now - timedelta(hours=3, minutes=10),
        reporter=analyst,
        now=now - timedelta(hours=3, minutes=10),
    )
    services.incident_acknowledge(
        incident=second, actor=duty, now=now - timedelta(hours=3, minutes=2)
    )
    services.incident_transition(
        incident=second,
        to="assessed",
        actor=analyst or duty,
        affected_platforms=["xiaohongshu", "weibo"],
        estimated_reach=180_000,
        reason="投诉集中在两个平台",
        now=now - timedelta(hours=2, minutes=20),
    )
    for member, role, department in ((duty, "lead", "pr"), (analyst, "member", "pr")):
        if member is not None:
            services.team_member_add(
                incident=second, user=member, actor=duty, role=role, department=department
            )
    # 3. Severe, responding, with a committee.
    third = services.incident_open(
        title="官方抖音账号被封禁",
        summary="官方抖音号因一条广告素材被平台封禁，用户质疑品牌违规。",
        crisis_type="account_banned",
        severity="severe",
        complexity="complex",
        detected_at=now - timedelta(hours=6),
        reporter=manager,
        now=now - timedelta(hours=6),
    )
    services.incident_acknowledge(
        incident=third, actor=duty, now=now - timedelta(hours=5, minutes=50)
    )
    services.incident_transition(
        incident=third,
        to="assessed",
        actor=manager,
        affected_platforms=["douyin", "weibo"],
        estimated_reach=5_000_000,
        now=now - timedelta(hours=5),
    )
    services.milestone_meet(
        incident=third,
        kind="initial_statement",
        actor=manager,
        evidence_url="https://weibo.com/",
        note="demo",
        now=now - timedelta(hours=3),
    )
    services.incident_transition(
        incident=third, to="responding", actor=manager, now=now - timedelta(hours=1)
    )
    for member, role, department in (
        (manager, "lead", "pr"),
        (legal, "legal", "legal"),
        (executive, "executive", "executive"),
    ):
        if member is not None:
            services.team_member_add(
                incident=third, user=member, actor=manager, role=role, department=department
            )
    # Catch up with the clocks of the back-dated incidents (warnings, breaches).
    services.sla_scan()
    services.escalation_scan()
    stdout.write("Incident demo: roster for 7 days, escalation policy, 3 incidents.")
