from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.urls import reverse

from crisis.roles import CAPABILITIES, ROLES
from tests.conftest import PASSWORD


def test_role_migration_creates_every_group_with_its_capabilities(db: Any) -> None:
    for role in ROLES:
        group = Group.objects.get(name=role)
        held = set(group.permissions.values_list("codename", flat=True))
        expected = {code for code, (_d, roles) in CAPABILITIES.items() if role in roles}
        assert held == expected, role


def test_only_legal_approves_at_legal_level(db: Any) -> None:
    holders = set(
        Group.objects.filter(permissions__codename="approve_legal").values_list("name", flat=True)
    )
    assert holders == {"legal"}


def test_user_without_role_gets_403_with_a_clear_message(
    client: Any, analyst: User, manager: User
) -> None:
    client.login(username="analyst", password=PASSWORD)
    url = reverse("team_roles_edit", args=[manager.pk])
    response = client.post(url, {"roles": ["manager"]})
    assert response.status_code == 403
    text = response.content.decode()
    assert "经理" in text  # names the role that may do this
    assert set(manager.groups.values_list("name", flat=True)) == {"manager"}


def test_user_with_no_role_at_all_cannot_view_console(client: Any, outsider: User) -> None:
    client.login(username="outsider", password=PASSWORD)
    assert client.get(reverse("team_roles")).status_code == 403


def test_manager_changes_roles(client: Any, analyst: User, manager: User) -> None:
    client.login(username="manager", password=PASSWORD)
    url = reverse("team_roles_edit", args=[analyst.pk])
    response = client.post(url, {"roles": ["analyst", "duty_officer"]})
    assert response.status_code == 302
    assert set(analyst.groups.values_list("name", flat=True)) == {"analyst", "duty_officer"}


def test_unknown_role_is_a_form_error_not_a_500(client: Any, analyst: User, manager: User) -> None:
    client.login(username="manager", password=PASSWORD)
    response = client.post(reverse("team_roles_edit", args=[analyst.pk]), {"roles": ["root"]})
    assert response.status_code == 200
    assert set(analyst.groups.values_list("name", flat=True)) == {"analyst"}


def test_seed_demo_creates_one_user_per_role(db: Any, monkeypatch: Any, settings: Any) -> None:
    from django.core.management import call_command

    settings.DEMO_PASSWORD = "demo-pass-123"
    call_command("seed_demo", "--users-only")
    users = {u.username: {g.name for g in u.groups.all()} for u in User.objects.all()}
    assert users == {
        "analyst": {"analyst"},
        "duty": {"duty_officer"},
        "manager": {"manager"},
        "legal": {"legal"},
        "executive": {"executive"},
    }
    assert User.objects.get(username="duty").check_password("demo-pass-123")


def test_seed_demo_without_password_prints_a_random_one_once(
    db: Any, settings: Any, capsys: Any
) -> None:
    from django.core.management import call_command

    settings.DEMO_PASSWORD = ""
    call_command("seed_demo", "--users-only")
    out = capsys.readouterr().out
    password = out.split("Demo password (shown once):")[1].split()[0]
    assert User.objects.get(username="analyst").check_password(password)
    call_command("seed_demo", "--users-only")
    assert "shown once" not in capsys.readouterr().out
