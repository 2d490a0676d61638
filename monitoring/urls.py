from __future__ import annotations

from django.urls import path

from monitoring import views

urlpatterns = [
    path("", views.stream, name="monitoring_index"),
    path("mentions/<int:mention_id>/correct", views.mention_correct, name="mention_correct"),
    path("sources/", views.sources, name="monitoring_sources"),
    path("sources/<int:source_id>/poll", views.source_poll_now, name="source_poll_now"),
    path("import/", views.import_file, name="monitoring_import"),
    path("dashboard/", views.dashboard, name="monitoring_dashboard"),
    path("dashboard/panel/", views.dashboard_panel, name="monitoring_dashboard_panel"),
    path("topics/new/", views.topic_edit, name="monitoring_topic_new"),
    path("topics/preview/", views.topic_preview, name="monitoring_topic_preview"),
    path("topics/<int:topic_id>/", views.topic_detail, name="monitoring_topic"),
    path("topics/<int:topic_id>/edit/", views.topic_edit, name="monitoring_topic_edit"),
    path("alerts/", views.alerts, name="monitoring_alerts"),
    path("alerts/panel/", views.alerts_panel, name="monitoring_alerts_panel"),
    path(
        "alerts/<int:alert_id>/<str:action>/",
        views.alert_action,
        name="monitoring_alert_action",
    ),
    path("terms/", views.terms, name="monitoring_terms"),
    path("terms/export.csv", views.terms_export, name="monitoring_terms_export"),
    path("terms/<int:term_id>/delete/", views.term_delete, name="monitoring_term_delete"),
    path(
        "incidents/<int:incident_id>/panel/",
        views.incident_panel,
        name="monitoring_incident_panel",
    ),
]
