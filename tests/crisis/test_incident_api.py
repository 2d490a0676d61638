"""The incident API: bearer tokens, the endpoints, and the role × action matrix."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from crisis.models import ApiToken, Incident
from tests.conftest import make_user
from tests.crisis.factories import open_incident


def token_for(user: User) -> str:
    out = StringIO()
    call_command("issue_token", user.username, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def call(client: Any, method: str, path: str, token: str | None, body: Any = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs = {
            "data": json.dumps(body) if not isinstance(body, str) else body,
            "content_type": "application/json",
        }
    return getattr(client, method)(f"/api/v1{path}", **headers, **kwargs)


def test_token_is_stored_hashed_and_can_be_revoked(client: Any, analyst: User) -> None:
    raw = token_for(analyst)
    stored = ApiToken.objects.get()
    assert raw not in (stored.key_hash, stored.prefix) and stored.key_hash != raw
    assert call(client, "get", "/incidents", raw).status_code == 200
    call_command("revoke_token", raw, stdout=StringIO())
    response = call(client, "get", "/incidents", raw)
    assert response.status_code == 401 and "error" in response.json()
    with pytest.raises(CommandError):
        call_command("revoke_token", raw, stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("issue_token", "nobody", stdout=StringIO())


def test_no_or_bad_token_is_401(client: Any, db: Any) -> None:
    assert call(client, "get", "/incidents", None).status_code == 401
    assert call(client, "get", "/incidents", "fh_wrong").status_code == 401
    assert call(client, "get", "/openapi.json", None).status_code == 200


def test_create_get_acknowledge_transition(client: Any, analyst: User, duty_officer: User) -> None:
    a, d = token_for(analyst), token_for(duty_officer)
    response = call(
        client,
        "post",
        "/incidents",
        a,
        {
            "title": "抖音视频：门店冲突",
            "summary": "现场视频",
            "crisis_type": "chaotic_event",
            "complexity": "emergency",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "detected" and body["complexity"] == "emergency"
    assert {m["kind"] for m in body["milestones"]} == {
        "monitoring_started",
        "scope_confirmed",
        "initial_statement",
    }
    assert all(m["state"] == "pending" for m in body["milestones"])
    assert body["team"]["required_people"] == 3
    iid = body["id"]
    assert call(client, "post", f"/incidents/{iid}/acknowledge", a).status_code == 403
    ack = call(client, "post", f"/incidents/{iid}/acknowledge", d)
    assert ack.status_code == 200
    started = next(m for m in ack.json()["milestones"] if m["kind"] == "monitoring_started")
    assert started["state"] == "met"
    again = call(client, "post", f"/incidents/{iid}/acknowledge", d)
    assert again.status_code == 409 and again.json()["error"]
    bad = call(client, "post", f"/incidents/{iid}/transition", a, {"to": "resolved"})
    assert bad.status_code == 409 and "error" in bad.json()
    ok = call(
        client,
        "post",
        f"/incidents/{iid}/transition",
        a,
        {"to": "assessed", "affected_platforms": ["douyin"], "estimated_reach": 5000},
    )
    assert ok.status_code == 200 and ok.json()["status"] == "assessed"
    listing = call(client, "get", "/incidents?status=assessed", a).json()
    assert [i["id"] for i in listing] == [iid]
    assert call(client, "get", "/incidents?severity=huge", a).status_code == 400
    assert call(client, "get", "/incidents/999999", a).status_code == 404


def test_bad_input_is_json_4xx_never_500(client: Any, analyst: User) -> None:
    a = token_for(analyst)
    for body in (
        "{not json",
        {"summary": "no title"},
        {"title": "x", "severity": "huge"},
        {"title": " "},
        {"title": "x", "drill": "maybe"},
        [1, 2],
    ):
        response = call(client, "post", "/incidents", a, body)
        assert 400 <= response.status_code < 500, (body, response.status_code)
        assert response["Content-Type"].startswith("application/json")
    incident = open_incident()
    for body in (
        {"to": "nowhere"},
        {"to": "dismissed"},
        {},
        {"to": "assessed", "estimated_reach": -1},
    ):
        response = call(client, "post", f"/incidents/{incident.pk}/transition", a, body)
        assert 400 <= response.status_code < 500, (body, response.status_code)
    assert Incident.objects.count() == 1


# What each role may do through the API; the UI matrix is in test_permission_matrix.py.
MATRIX = {
    # action: roles allowed
    "create": {"analyst", "duty_officer", "manager"},
    "list": {"analyst", "duty_officer", "manager", "legal", "executive"},
    "acknowledge": {"duty_officer", "manager"},
    "dismiss": {"analyst", "duty_officer", "manager"},
}
ROLES = ["analyst", "duty_officer", "manager", "legal", "executive", None]


@pytest.mark.parametrize("role", ROLES)
def test_api_role_matrix(client: Any, db: Any, role: str | None) -> None:
    user = make_user(f"u_{role}", *([role] if role else []))
    tok = token_for(user)
    expect = lambda action: role in MATRIX[action]  # noqa: E731
    r = call(client, "post", "/incidents", tok, {"title": "t"})
    assert (r.status_code == 201) == expect("create"), r.content
    assert r.status_code in (201, 403)
    r = call(client, "get", "/incidents", tok)
    assert (r.status_code == 200) == expect("list")
    incident = open_incident()
    r = call(client, "post", f"/incidents/{incident.pk}/acknowledge", tok)
    assert (r.status_code == 200) == expect("acknowledge")
    if r.status_code == 403:
        assert "error" in r.json()
    other = open_incident()
    r = call(
        client,
        "post",
        f"/incidents/{other.pk}/transition",
        tok,
        {"to": "dismissed", "reason": "false alarm"},
    )
    assert (r.status_code == 200) == expect("dismiss")
    assert r.status_code in (200, 403)
