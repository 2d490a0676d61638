"""Transitions: every allowed and forbidden one, merges, dismissals, the timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from crisis import services
from crisis.models import Incident, Status, TimelineEvent
from crisis.services import TRANSITIONS, ConflictError, IncidentError
from tests.crisis.factories import T0, open_incident

ALL = [s for s in Status.values]
# Every (from, to) pair: the allowed ones from the table, the rest must be refused.
PAIRS = [(a, b) for a in ALL for b in ALL if a != b and b != "merged"]


def _put_in(incident: Incident, status: str) -> Incident:
    Incident.objects.filter(pk=incident.pk).update(status=status)
    incident.refresh_from_db()
    return incident


@pytest.mark.parametrize(("current", "to"), PAIRS)
def test_every_transition_is_allowed_or_refused(
    db: Any, manager: User, current: str, to: str
) -> None:
    incident = _put_in(open_incident(), current)
    events = TimelineEvent.objects.filter(incident=incident).count()
    if to in TRANSITIONS[current]:
        services.incident_transition(incident=incident, to=to, actor=manager, reason="because")
        incident.refresh_from_db()
        assert incident.status == to
        last = TimelineEvent.objects.filter(incident=incident, field="status").last()
        assert last is not None
        assert (last.from_value, last.to_value, last.actor) == (current, to, manager)
    else:
        with pytest.raises(ConflictError):
            services.incident_transition(incident=incident, to=to, actor=manager, reason="x")
        incident.refresh_from_db()
        assert incident.status == current
        assert TimelineEvent.objects.filter(incident=incident).count() == events


def test_dismiss_needs_a_reason(db: Any, analyst: User) -> None:
    incident = open_incident()
    with pytest.raises(IncidentError):
        services.incident_transition(incident=incident, to="dismissed", actor=analyst, reason=" ")
    services.incident_transition(
        incident=incident, to="dismissed", actor=analyst, reason="false alarm"
    )
    incident.refresh_from_db()
    assert incident.dismiss_reason == "false alarm"
    assert not incident.milestones.filter(next_check_at__isnull=False).exists()


def test_acknowledge_meets_monitoring_started_and_stops_escalation(
    db: Any, duty_officer: User
) -> None:
    incident = open_incident()
    assert incident.escalation_next_at == T0 + timedelta(minutes=5)
    services.incident_acknowledge(
        incident=incident, actor=duty_officer, now=T0 + timedelta(minutes=3)
    )
    incident.refresh_from_db()
    assert incident.status == "monitoring"
    assert incident.acknowledged_by == duty_officer
    assert incident.escalation_next_at is None
    ms = incident.milestones.get(kind="monitoring_started")
    assert ms.state == "met" and ms.met_by == duty_officer
    with pytest.raises(ConflictError, match="已被确认"):
        services.incident_acknowledge(incident=incident, actor=duty_officer)


def test_scope_confirmation_records_scope_and_meets_milestone(db: Any, analyst: User) -> None:
    incident = open_incident()
    services.incident_acknowledge(incident=incident, actor=analyst)
    services.incident_transition(
        incident=incident,
        to="assessed",
        actor=analyst,
        affected_platforms=["weibo", "douyin"],
        estimated_reach=250000,
        severity="moderate",
    )
    incident.refresh_from_db()
    assert incident.affected_platforms == ["weibo", "douyin"]
    assert incident.estimated_reach == 250000
    assert incident.severity == "moderate"
    assert incident.milestones.get(kind="scope_confirmed").met_at is not None
    assert TimelineEvent.objects.filter(incident=incident, kind="severity_raised").exists()


def test_milestones_follow_complexity(db: Any) -> None:
    kinds = lambda i: set(i.milestones.values_list("kind", flat=True))  # noqa: E731
    base = {"monitoring_started", "scope_confirmed", "initial_statement"}
    assert kinds(open_incident(complexity="normal")) == base | {"detailed_reply"}
    assert kinds(open_incident(complexity="complex")) == base | {"complete_plan"}
    assert kinds(open_incident(complexity="emergency")) == base
    incident = open_incident()
    due = {m.kind: m.due_at - T0 for m in incident.milestones.all()}
    assert due["monitoring_started"] == timedelta(minutes=30)
    assert due["scope_confirmed"] == timedelta(hours=2)
    assert due["initial_statement"] == timedelta(hours=4)
    assert due["detailed_reply"] == timedelta(hours=24)


def test_holding_statement_meets_initial_statement_only_in_an_emergency(
    db: Any, manager: User
) -> None:
    normal = open_incident(complexity="normal")
    assert (
        services.incident_record_statement(
            incident=normal, statement_kind="holding", actor=manager, url="https://weibo.com/1"
        )
        is None
    )
    emergency = open_incident(complexity="emergency")
    row = services.incident_record_statement(
        incident=emergency, statement_kind="holding", actor=manager, url="https://weibo.com/2"
    )
    assert row is not None and row.kind == "initial_statement"
    assert row.evidence_url == "https://weibo.com/2"


def test_progress_clock_runs_while_responding(db: Any, manager: User) -> None:
    incident = open_incident()
    for to in ("monitoring", "assessed", "responding"):
        services.incident_transition(incident=incident, to=to, actor=manager)
    progress = incident.milestones.filter(kind="progress_update")
    assert progress.count() == 1
    services.milestone_meet(incident=incident, kind="progress_update", actor=manager)
    assert progress.count() == 2  # the next one started
    services.incident_transition(incident=incident, to="recovering", actor=manager)
    services.incident_transition(incident=incident, to="resolved", actor=manager)
    assert not progress.filter(met_at__isnull=True, cancelled_at__isnull=True).exists()


def test_merge_points_duplicate_to_survivor_and_joins_timeline(db: Any, analyst: User) -> None:
    from crisis.selectors import incident_timeline

    survivor = open_incident(title="A")
    duplicate = open_incident(title="B")
    services.incident_merge(duplicate=duplicate, survivor=survivor, actor=analyst, reason="same")
    duplicate.refresh_from_db()
    assert duplicate.status == "merged" and duplicate.merged_into == survivor
    kinds = [e.kind for e in incident_timeline(incident=survivor)]
    assert kinds.count("opened") == 2 and "merged" in kinds and "merged_in" in kinds
    with pytest.raises(ConflictError):
        services.incident_merge(duplicate=duplicate, survivor=survivor, actor=analyst)


def test_severity_lowering_needs_reason_and_is_recorded(db: Any, manager: User) -> None:
    incident = open_incident(severity="severe")
    with pytest.raises(IncidentError):
        services.incident_set_severity(
            incident=incident, severity="minor", actor=manager, reason=""
        )
    services.incident_set_severity(
        incident=incident, severity="moderate", actor=manager, reason="reach is smaller"
    )
    event = TimelineEvent.objects.get(incident=incident, kind="severity_lowered")
    assert (event.from_value, event.to_value, event.reason) == (
        "severe",
        "moderate",
        "reach is smaller",
    )


def test_type_change_writes_timeline(db: Any, analyst: User) -> None:
    incident = open_incident()
    services.incident_set_type(incident=incident, crisis_type="wrong_data", actor=analyst)
    assert TimelineEvent.objects.filter(incident=incident, kind="type_changed").exists()
    with pytest.raises(IncidentError):
        services.incident_set_type(incident=incident, crisis_type="nonsense", actor=analyst)


def test_open_rejects_bad_input_with_messages(db: Any) -> None:
    with pytest.raises(IncidentError):
        open_incident(title="  ")
    with pytest.raises(IncidentError):
        open_incident(severity="apocalyptic")
    with pytest.raises(IncidentError):
        open_incident(complexity="trivial")


def test_seed_demo_adds_roster_policy_and_incidents(db: Any, settings: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    from crisis.demo import seed, seed_users
    from crisis.models import DutyShift, EscalationPolicy
    from crisis.selectors import roster_gaps

    # seed_demo runs every app's demo (monitoring's too); this test checks the core's part.
    settings.DEMO_PASSWORD = "demo-pass-123"
    call_command("seed_demo", "--users-only", stdout=StringIO())
    seed(stdout=StringIO())
    assert EscalationPolicy.objects.filter(is_default=True).count() == 1
    assert roster_gaps() == [] and roster_gaps(position="backup") == []
    assert DutyShift.objects.filter(position="primary", user__username="duty").exists()
    statuses = set(Incident.objects.values_list("status", flat=True))
    assert {"detected", "assessed", "responding"} <= statuses
    seed_users(password=None)
    seed(stdout=StringIO())  # twice is harmless
    assert Incident.objects.count() == 3
