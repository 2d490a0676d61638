"""URLs of the incident-core pages, mounted at /incidents/ by the root URLconf."""

from __future__ import annotations

from django.urls import path

from crisis import views

urlpatterns = [
    path("", views.incident_board, name="incident_board"),
    path("board/panel/", views.incident_board_panel, name="incident_board_panel"),
    path("new/", views.incident_report, name="incident_report"),
    path("ack/<str:token>/", views.incident_ack_link, name="incident_ack_link"),
    path("roster/", views.roster, name="roster"),
    path("roster/shifts/", views.roster_shift_add, name="roster_shift_add"),
    path(
        "roster/shifts/<int:shift_id>/delete/",
        views.roster_shift_delete,
        name="roster_shift_delete",
    ),
    path("roster/policy/", views.escalation_policy_edit, name="escalation_policy"),
    path("pages/", views.my_pages, name="my_pages"),
    path("notifications/", views.notification_centre, name="notification_centre"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("profile/", views.profile, name="profile"),
    path("webhooks/", views.group_webhooks, name="group_webhooks"),
    path("<int:incident_id>/", views.incident_detail, name="incident_detail"),
    path("<int:incident_id>/ack/", views.incident_ack, name="incident_ack"),
    path("<int:incident_id>/transition/", views.incident_transition, name="incident_transition"),
    path("<int:incident_id>/severity/", views.incident_severity, name="incident_severity"),
    path("<int:incident_id>/type/", views.incident_type, name="incident_type"),
    path("<int:incident_id>/milestone/", views.incident_milestone, name="incident_milestone"),
    path("<int:incident_id>/team/", views.incident_team_add, name="incident_team_add"),
    path(
        "<int:incident_id>/team/<int:member_id>/remove/",
        views.incident_team_remove,
        name="incident_team_remove",
    ),
    path("<int:incident_id>/merge/", views.incident_merge, name="incident_merge"),
]
