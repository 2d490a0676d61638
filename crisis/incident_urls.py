"""URLs of the incident-core pages, mounted at /incidents/ by the root URLconf."""

from __future__ import annotations

from django.urls import path

from crisis import views

urlpatterns = [
    path("", views.home, name="incident_board"),
]
