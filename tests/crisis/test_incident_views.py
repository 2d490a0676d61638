"""The incident pages through the Django test client: board, detail, report, roster, pages,
notification centre, profile; the live board's change token; the signed acknowledge link."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from crisis import services
from crisis.models import Incident, TimelineEvent
from tests.conftest import PASSWORD, make_user
from tests.crisis.factories import open_incident, shift


def login(client: Any, user: User) -> None:
    assert client.login(username=user.username, password=PASSWORD)


@pytest.fixture
def live_incidents(db: Any) -> list[Incident]:
    now = timezone.now()
    return [
        open_incident(title="<script>alert(1)</script> 谣言", now=now - timedelta(minutes=20)),
        open_incident(title="Second", now=now, severity="severe"),
    ]


def test_board_lists_open_incidents_nearest_deadline_first_and_escapes(
    client: Any, analyst: User, live_incidents: list[Incident]
) -> None:
    login(client, analyst)
    response = client.get(reverse("incident_board"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    first, second = live_incidents
    assert html.index(f'data-incident="{first.pk}"') < html.index(f'data-incident="{second.pk}"')
    assert "data-countdown" in html
    assert "事件看板" in html  # Chinese by default
    filtered = client.get(reverse("incident_board"), {"severity": "severe"}).content.decode()
    assert f'data-incident="{second.pk}"' in filtered
    assert f'data-incident="{first.pk}"' not in filtered


def test_board_panel_sends_nothing_when_unchanged(
    client: Any, analyst: User, manager: User, live_incidents: list[Incident]
) -> None:
    login(client, analyst)
    response = client.get(reverse("incident_board_panel"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    token = response.content.decode().split('data-board-token="')[1].split('"')[0]
    unchanged = client.get(reverse("incident_board_panel"), {"token": token})
    assert unchanged.status_code == 204 and unchanged.content == b""
    services.incident_acknowledge(incident=live_incidents[0], actor=manager)
    changed = client.get(reverse("incident_board_panel"), {"token": token})
    assert changed.status_code == 200
    assert 'id="board-panel"' in changed.content.decode()


def test_board_query_count_does_not_grow(
    client: Any, analyst: User, django_assert_max_num_queries: Any
) -> None:
    login(client, analyst)
    for n in range(3):
        open_incident(title=f"a{n}")
    with django_assert_max_num_queries(12) as small:
        client.get(reverse("incident_board"))
    for n in range(40):
        incident = open_incident(title=f"b{n}")
        services.team_member_add(incident=incident, user=analyst, actor=analyst)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("incident_board"))
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("incident_board_panel"))


def test_report_form_opens_incident_and_pages_primary(
    client: Any, analyst: User, duty_officer: User
) -> None:
    shift(duty_officer, "primary", timezone.now() - timedelta(hours=1))
    login(client, analyst)
    response = client.post(
        reverse("incident_report"),
        {
            "title": "电话投诉：批量退款",
            "summary": "客户来电",
            "severity": "minor",
            "complexity": "normal",
            "crisis_type": "complaint_outbreak",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incident_detail", args=[incident.pk])
    assert incident.reporter == analyst and incident.source == "manual"
    assert incident.notifications.get().deliveries.filter(user=duty_officer).exists()


def test_report_form_errors_are_messages_not_500(client: Any, analyst: User) -> None:
    login(client, analyst)
    response = client.post(
        reverse("incident_report"),
        {
            "title": "",
            "summary": "",
            "severity": "catastrophic",
            "complexity": "x",
            "detected_at": "not a date",
        },
    )
    assert response.status_code == 200
    assert Incident.objects.count() == 0
    assert "errorlist" in response.content.decode()
    future = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("incident_report"),
        {
            "title": "t",
            "summary": "s",
            "severity": "minor",
            "complexity": "normal",
            "detected_at": future,
        },
    )
    assert response.status_code == 200 and Incident.objects.count() == 0


def test_incident_page_shows_only_allowed_transitions(
    client: Any, analyst: User, duty_officer: User, live_incidents: list[Incident]
) -> None:
    incident = live_incidents[0]
    login(client, analyst)
    html = client.get(reverse("incident_detail", args=[incident.pk])).content.decode()
    assert 'id="ack-button"' not in html  # analysts cannot acknowledge
    assert 'value="dismissed"' in html
    client.logout()
    login(client, duty_officer)
    html = client.get(reverse("incident_detail", args=[incident.pk])).content.decode()
    assert 'id="ack-button"' in html
    assert "monitoring_started" in html and "team-shortfalls" in html


def test_ack_from_board_then_second_click_gets_a_clear_message(
    client: Any, duty_officer: User, live_incidents: list[Incident]
) -> None:
    incident = live_incidents[0]
    login(client, duty_officer)
    url = reverse("incident_ack", args=[incident.pk])
    response = client.post(url, {"next": reverse("incident_board")}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("incident_board")
    incident.refresh_from_db()
    assert incident.status == "monitoring"
    response = client.post(url, follow=True)
    assert "已被确认" in response.content.decode()
    assert TimelineEvent.objects.filter(incident=incident, kind="acknowledged").count() == 1


def test_signed_ack_link_acknowledges_after_login(
    client: Any, duty_officer: User, live_incidents: list[Incident]
) -> None:
    incident = live_incidents[1]
    url = reverse("incident_ack_link", args=[services.ack_token(incident_id=incident.pk)])
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    login_page = client.post(
        response["Location"], {"username": "duty", "password": PASSWORD}, follow=True
    )
    assert login_page.redirect_chain[-1][0] == reverse("incident_detail", args=[incident.pk])
    incident.refresh_from_db()
    assert incident.status == "monitoring" and incident.acknowledged_by == duty_officer


def test_tampered_or_expired_ack_link_is_refused(
    client: Any, duty_officer: User, live_incidents: list[Incident], settings: Any
) -> None:
    login(client, duty_officer)
    incident = live_incidents[0]
    token = services.ack_token(incident_id=incident.pk)
    bad = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    client.get(reverse("incident_ack_link", args=[bad]))
    settings.FENGHUO_ACK_LINK_MAX_AGE = -1
    client.get(reverse("incident_ack_link", args=[token]))
    incident.refresh_from_db()
    assert incident.status == "detected"


def test_scope_confirmation_form_and_severity_rules(
    client: Any, analyst: User, manager: User, live_incidents: list[Incident]
) -> None:
    incident = live_incidents[1]  # severe
    services.incident_acknowledge(incident=incident, actor=manager)
    login(client, analyst)
    url = reverse("incident_transition", args=[incident.pk])
    client.post(url, {"to": "assessed", "severity": "minor", "affected_platforms": ["weibo"]})
    incident.refresh_from_db()
    assert incident.status == "monitoring"  # an analyst may not lower severity
    client.post(
        url,
        {
            "to": "assessed",
            "severity": "severe",
            "affected_platforms": ["weibo", "douyin"],
            "estimated_reach": "120000",
        },
    )
    incident.refresh_from_db()
    assert incident.status == "assessed" and incident.estimated_reach == 120000
    response = client.post(url, {"to": "nonsense"}, follow=True)
    assert response.status_code == 200


def test_roster_page_shows_who_is_on_duty_and_gaps(
    client: Any, manager: User, duty_officer: User
) -> None:
    now = timezone.now()
    shift(duty_officer, "primary", now - timedelta(hours=1), hours=24)
    login(client, manager)
    html = client.get(reverse("roster")).content.decode()
    assert 'id="on-duty-now"' in html and "duty" in html
    assert 'id="roster-gaps"' in html  # only one day is covered
    start = timezone.localtime(now + timedelta(days=1, hours=1)).strftime("%Y-%m-%dT%H:%M")
    end = timezone.localtime(now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    client.post(
        reverse("roster_shift_add"),
        {"user": duty_officer.pk, "position": "primary", "start": start, "end": end},
    )
    assert duty_officer.duty_shifts.count() == 2
    # overlapping and reversed shifts are form messages, not 500s
    response = client.post(
        reverse("roster_shift_add"),
        {"user": duty_officer.pk, "position": "primary", "start": start, "end": end},
        follow=True,
    )
    assert response.status_code == 200 and duty_officer.duty_shifts.count() == 2
    response = client.post(
        reverse("roster_shift_add"),
        {"user": duty_officer.pk, "position": "backup", "start": end, "end": start},
        follow=True,
    )
    assert response.status_code == 200 and duty_officer.duty_shifts.count() == 2


def test_home_overview_shows_pages_duty_and_gap_warning(client: Any, duty_officer: User) -> None:
    shift(duty_officer, "primary", timezone.now() - timedelta(hours=1), hours=2)
    incident = open_incident(now=timezone.now())
    login(client, duty_officer)
    html = client.get(reverse("home")).content.decode()
    assert incident.title in html
    assert 'id="roster-gap-warning"' in html
    assert "data-unread" in html  # the bell shows the unread count


def test_notification_centre_marks_read(client: Any, duty_officer: User) -> None:
    shift(duty_officer, "primary", timezone.now() - timedelta(hours=1))
    open_incident(now=timezone.now())
    login(client, duty_officer)
    assert "data-unread" in client.get(reverse("notification_centre")).content.decode()
    client.post(reverse("notifications_read"))
    assert "data-unread" not in client.get(reverse("notification_centre")).content.decode()


def test_profile_channels_and_tokens(client: Any, analyst: User) -> None:
    login(client, analyst)
    response = client.post(
        reverse("profile"), {"form": "channel", "kind": "dingtalk", "address": "not a url!"}
    )
    assert response.status_code == 200 and analyst.channels.count() == 0
    client.post(
        reverse("profile"),
        {"form": "channel", "kind": "webhook", "address": "https://hooks.example.com/x"},
    )
    assert analyst.channels.count() == 1
    response = client.post(reverse("profile"), {"form": "token", "name": "script"})
    raw = response.content.decode().split('id="new-token">')[1].split("<")[0]
    assert services.api_token_authenticate(raw=raw) == analyst
    token = analyst.api_tokens.get()
    client.post(reverse("profile"), {"form": "token_revoke", "token": token.pk})
    assert services.api_token_authenticate(raw=raw) is None


def test_user_without_role_cannot_open_incident_pages(client: Any, outsider: User) -> None:
    incident = open_incident()
    login(client, outsider)
    assert client.get(reverse("incident_board")).status_code == 403
    assert client.get(reverse("incident_detail", args=[incident.pk])).status_code == 403


def test_manager_adds_group_webhook(client: Any, manager: User, analyst: User) -> None:
    login(client, analyst)
    assert client.get(reverse("group_webhooks")).status_code == 403
    client.logout()
    login(client, manager)
    client.post(
        reverse("group_webhooks"),
        {
            "form": "add",
            "name": "危机群",
            "audience": "team",
            "kind": "webhook",
            "address": "https://hooks.example.com/y",
        },
    )
    from crisis.models import GroupWebhook

    assert GroupWebhook.objects.filter(audience="team").count() == 1


def test_panel_slots_render_only_when_the_url_exists(
    client: Any, analyst: User, live_incidents: list[Incident]
) -> None:
    from crisis.panels import incident_panels

    make_user("x")
    panels = incident_panels(incident_id=live_incidents[0].pk)
    login(client, analyst)
    html = client.get(reverse("incident_detail", args=[live_incidents[0].pk])).content.decode()
    assert html.count('hx-trigger="load"') == len(panels)
