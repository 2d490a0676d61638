"""SLA warnings and breaches: once each, late but never lost, severity raised on breach."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from crisis import services
from crisis.models import Notification, SlaMilestone, TimelineEvent
from tests.conftest import make_user
from tests.crisis.factories import T0, open_incident, shift


def _levels(incident: Any, kind: str) -> list[str]:
    return sorted(
        Notification.objects.filter(incident=incident, milestone__kind=kind).values_list(
            "level", flat=True
        )
    )


def test_warnings_at_50_and_80_percent_then_breach(db: Any, duty_officer: User) -> None:
    shift(duty_officer, "primary", T0 - timedelta(hours=1))
    incident = open_incident()
    # monitoring_started: 30 min; 50% = 15 min, 80% = 24 min.
    services.sla_scan(now=T0 + timedelta(minutes=14))
    assert _levels(incident, "monitoring_started") == []
    services.sla_scan(now=T0 + timedelta(minutes=15))
    assert _levels(incident, "monitoring_started") == ["warning:1"]
    services.sla_scan(now=T0 + timedelta(minutes=16))
    assert _levels(incident, "monitoring_started") == ["warning:1"]
    services.sla_scan(now=T0 + timedelta(minutes=24))
    assert _levels(incident, "monitoring_started") == ["warning:1", "warning:2"]
    services.sla_scan(now=T0 + timedelta(minutes=30))
    assert _levels(incident, "monitoring_started") == ["breach", "warning:1", "warning:2"]
    for _ in range(3):  # reruns write nothing
        services.sla_scan(now=T0 + timedelta(minutes=31))
    assert _levels(incident, "monitoring_started") == ["breach", "warning:1", "warning:2"]
    ms = incident.milestones.get(kind="monitoring_started")
    assert ms.state == "breached" and ms.next_check_at is None
    assert TimelineEvent.objects.filter(incident=incident, kind="sla_breached").count() == 1
    # warnings went to the on-duty primary (no team yet), the breach to the managers too
    breach = Notification.objects.get(milestone=ms, level="breach")
    assert duty_officer.pk in set(breach.deliveries.values_list("user_id", flat=True))


def test_met_milestone_sends_nothing(db: Any, duty_officer: User) -> None:
    incident = open_incident()
    services.incident_acknowledge(incident=incident, actor=duty_officer, now=T0)
    services.sla_scan(now=T0 + timedelta(hours=1))
    assert _levels(incident, "monitoring_started") == []


def test_initial_statement_breach_raises_severity_one_step(db: Any, manager: User) -> None:
    incident = open_incident(severity="minor")
    services.sla_scan(now=T0 + timedelta(hours=4, seconds=1))
    incident.refresh_from_db()
    assert incident.severity == "moderate"
    event = TimelineEvent.objects.get(incident=incident, kind="severity_raised")
    assert event.data["trigger"] == "breach"
    # a breach of another milestone (scope_confirmed, 2h) did not raise it twice
    assert TimelineEvent.objects.filter(incident=incident, kind="severity_raised").count() == 1


def test_scanner_stopped_past_deadline_records_breach_once_late_not_lost(
    db: Any, manager: User
) -> None:
    """No scan ran for two hours; the next one writes the breach (skipping the stale
    warnings it supersedes), and a restart rerun writes nothing more."""
    incident = open_incident()
    late = T0 + timedelta(hours=2, minutes=5)
    services.sla_scan(now=late)
    assert _levels(incident, "monitoring_started") == ["breach"]
    breach = Notification.objects.get(milestone__kind="monitoring_started", incident=incident)
    assert breach.created_at - breach.fired_for == timedelta(hours=1, minutes=35)
    services.sla_scan(now=late + timedelta(seconds=5))
    assert Notification.objects.filter(incident=incident, level="breach").count() == 2  # +scope
    assert _levels(incident, "monitoring_started") == ["breach"]


def test_ledger_unique_constraint_holds_even_without_locks(db: Any) -> None:
    incident = open_incident()
    row = incident.milestones.first()
    args = {
        "dedupe_key": f"sla:{row.pk}:breach",
        "reason": "sla_breach",
        "level": "breach",
        "title": "t",
        "body": "",
        "recipients": [],
        "incident": incident,
        "milestone": row,
    }
    assert services.notification_create(**args) is not None
    assert services.notification_create(**args) is None
    args["dedupe_key"] = "another-key"  # same (incident, milestone, level): refused too
    assert services.notification_create(**args) is None


@pytest.mark.postgres
def test_two_concurrent_scanners_page_exactly_once(
    transactional_db: Any, require_postgres: None
) -> None:
    make_user("m", "manager")
    incidents = [open_incident(title=f"i{n}") for n in range(40)]
    now = T0 + timedelta(hours=5)  # every early milestone is breached
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    counts: list[int] = []

    def scan() -> None:
        try:
            barrier.wait()
            total = 0
            for _ in range(10):
                total += services.sla_scan(now=now, batch=7)
            counts.append(total)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    expected = 3 * len(incidents)  # monitoring_started, scope_confirmed, initial_statement
    assert sum(counts) == expected
    assert Notification.objects.filter(level="breach").count() == expected
    assert all(c > 0 for c in counts), counts  # both scanners did part of the work
    for incident in incidents:
        assert TimelineEvent.objects.filter(incident=incident, kind="sla_breached").count() == 3
    assert not SlaMilestone.objects.filter(
        kind__in=["monitoring_started", "scope_confirmed", "initial_statement"],
        breached_at__isnull=True,
    ).exists()


def test_statement_recorded_by_hand_needs_its_link(db: Any, manager: User) -> None:
    incident = open_incident()
    with pytest.raises(services.IncidentError, match="链接"):
        services.milestone_record_by_hand(
            incident=incident, kind="initial_statement", actor=manager, evidence_url=None
        )
    assert not SlaMilestone.objects.filter(incident=incident, met_at__isnull=False).exists()
    row = services.milestone_record_by_hand(
        incident=incident,
        kind="initial_statement",
        actor=manager,
        evidence_url="https://weibo.com/brand/statement",
        now=T0 + timedelta(hours=1),
    )
    assert row is not None and row.evidence_url == "https://weibo.com/brand/statement"
    # scope confirmation is not a publication: no link needed
    assert services.milestone_record_by_hand(
        incident=incident,
        kind="scope_confirmed",
        actor=manager,
        evidence_url=None,
        now=T0 + timedelta(hours=1),
    )
