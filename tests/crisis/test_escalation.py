"""The paging chain with injected time: primary, then backup after 5 min, managers after 15."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from crisis import services
from crisis.models import Delivery, EscalationPolicy, Incident, Notification, TimelineEvent
from crisis.services import ConflictError
from tests.conftest import make_user
from tests.crisis.factories import T0, open_incident, shift


def _paged(incident: Incident, step: int) -> set[str]:
    n = Notification.objects.get(incident=incident, level=f"step:{step}")
    return set(
        Delivery.objects.filter(notification=n, channel="inapp").values_list(
            "user__username", flat=True
        )
    )


@pytest.fixture
def roster(db: Any) -> dict[str, User]:
    primary = make_user("primary", "duty_officer")
    backup = make_user("backup", "duty_officer")
    boss = make_user("boss", "manager")
    shift(primary, "primary", T0 - timedelta(hours=2))
    shift(backup, "backup", T0 - timedelta(hours=2))
    return {"primary": primary, "backup": backup, "boss": boss}


def test_chain_pages_primary_then_backup_then_managers(roster: dict[str, User]) -> None:
    incident = open_incident()
    assert _paged(incident, 0) == {"primary"}
    assert services.escalation_scan(now=T0 + timedelta(minutes=4, seconds=59)) == 0
    assert services.escalation_scan(now=T0 + timedelta(minutes=5)) == 1
    assert _paged(incident, 1) == {"backup"}
    assert services.escalation_scan(now=T0 + timedelta(minutes=10)) == 0
    assert services.escalation_scan(now=T0 + timedelta(minutes=15)) == 1
    assert _paged(incident, 2) == {"boss"}
    assert services.escalation_scan(now=T0 + timedelta(hours=3)) == 0  # chain ended
    assert TimelineEvent.objects.filter(incident=incident, kind="escalated").count() == 2


def test_acknowledged_incident_does_not_escalate(roster: dict[str, User]) -> None:
    incident = open_incident()
    services.incident_acknowledge(
        incident=incident, actor=roster["primary"], now=T0 + timedelta(minutes=2)
    )
    assert services.escalation_scan(now=T0 + timedelta(minutes=30)) == 0
    assert Notification.objects.filter(incident=incident, reason="escalation").count() == 0


def test_policy_snapshot_keeps_running_chain(roster: dict[str, User]) -> None:
    policy = services.escalation_policy_default()
    incident = open_incident()
    services.escalation_policy_update(
        policy=policy,
        backup_after_minutes=1,
        managers_after_minutes=2,
        warning_fractions=[0.5],
        progress_cadence_minutes=60,
        breach_raises_severity=[],
        actor=roster["boss"],
    )
    assert EscalationPolicy.objects.get(pk=policy.pk).backup_after_minutes == 1
    assert services.escalation_scan(now=T0 + timedelta(minutes=3)) == 0  # still 5 min
    later = open_incident(now=T0 + timedelta(minutes=10))
    assert later.escalation_next_at == T0 + timedelta(minutes=11)
    assert incident.escalation_snapshot["backup_after_minutes"] == 5


def test_empty_roster_pages_managers(db: Any) -> None:
    make_user("boss", "manager")
    incident = open_incident()
    assert _paged(incident, 0) == {"boss"}


def test_broadcast_pages_each_role_holder_once_per_key(db: Any) -> None:
    make_user("a1", "manager")
    make_user("a2", "manager")
    make_user("x", "analyst")
    args = {"audience_role": "manager", "title": "Source down", "body": "weibo", "dedupe_key": "k"}
    assert services.notification_broadcast(**args) == 2
    assert services.notification_broadcast(**args) == 0
    assert Delivery.objects.filter(channel="inapp").count() == 2


@pytest.mark.postgres
def test_two_concurrent_acknowledges_one_wins(
    transactional_db: Any, require_postgres: None
) -> None:
    a = make_user("duty_a", "duty_officer")
    b = make_user("duty_b", "duty_officer")
    incident = open_incident()
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def ack(user: User) -> None:
        try:
            fresh = Incident.objects.get(pk=incident.pk)  # both read "detected"
            barrier.wait()
            services.incident_acknowledge(incident=fresh, actor=user)
            outcomes[user.username] = "won"
        except ConflictError as exc:
            outcomes[user.username] = f"lost: {exc}"
        finally:
            connection.close()

    threads = [threading.Thread(target=ack, args=(u,)) for u in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v.split(":")[0] for v in outcomes.values()) == ["lost", "won"]
    assert TimelineEvent.objects.filter(incident=incident, kind="acknowledged").count() == 1
    assert TimelineEvent.objects.filter(incident=incident, kind="milestone_met").count() == 1
    incident.refresh_from_db()
    winner = next(k for k, v in outcomes.items() if v == "won")
    assert incident.acknowledged_by.username == winner
