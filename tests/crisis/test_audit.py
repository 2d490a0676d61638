"""Changes that belong to no incident record who made them, as codes rendered at display."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone, translation

from crisis import services
from crisis.audit_text import describe
from crisis.models import AuditEvent, DutyShift
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_role_change_is_audited_with_actor_and_rendered_per_language(
    client: Any, analyst: User, manager: User
) -> None:
    services.user_set_roles(user=analyst, roles=["analyst", "duty_officer"], actor=manager)
    event = AuditEvent.objects.get()
    assert event.actor == manager and event.action == "roles_set"
    assert event.data["before"] == ["analyst"]
    assert event.data["after"] == ["analyst", "duty_officer"]
    with translation.override("en"):
        assert "Duty officer" in describe(event)
    services.user_set_roles(user=analyst, roles=["analyst", "duty_officer"], actor=manager)
    assert AuditEvent.objects.count() == 1  # nothing changed, nothing recorded
    client.login(username=manager.username, password=PASSWORD)
    html = client.get(reverse("team_roles"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Recent changes" in html and "Roles of analyst" in html


def test_shift_and_policy_changes_are_audited(
    client: Any, duty_officer: User, manager: User
) -> None:
    start = timezone.now() + timedelta(days=1)
    shift = services.duty_shift_create(
        user=duty_officer,
        position="primary",
        start=start,
        end=start + timedelta(hours=8),
        actor=manager,
    )
    services.duty_shift_delete(shift_id=shift.pk, actor=manager)
    services.duty_shift_delete(shift_id=shift.pk, actor=manager)  # gone: nothing to record
    assert not DutyShift.objects.exists()
    policy = services.escalation_policy_default()
    services.escalation_policy_update(
        policy=policy,
        backup_after_minutes=10,
        managers_after_minutes=30,
        warning_fractions=[0.5, 0.8],
        progress_cadence_minutes=60,
        breach_raises_severity=[],
        actor=manager,
    )
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["shift_created", "shift_deleted", "policy_updated"]
    assert set(AuditEvent.objects.values_list("actor", flat=True)) == {manager.pk}
    changes = AuditEvent.objects.get(action="policy_updated").data["changes"]
    assert changes["backup_after_minutes"] == [5, 10]
    client.login(username=manager.username, password=PASSWORD)
    html = client.get(reverse("roster"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Shift deleted" in html and "Escalation policy changed" in html


def test_group_webhook_changes_are_audited_without_the_address(manager: User) -> None:
    hook = services.group_webhook_create(
        name="PR group",
        audience="team",
        kind="webhook",
        address="https://hooks.example.com/secret-path",
        actor=manager,
    )
    services.group_webhook_delete(webhook_id=hook.pk, actor=manager)
    rows = list(AuditEvent.objects.order_by("id"))
    assert [r.action for r in rows] == ["webhook_created", "webhook_deleted"]
    assert all("secret-path" not in str(r.data) for r in rows)
