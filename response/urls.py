from __future__ import annotations

from django.urls import path

from response import views

urlpatterns = [
    path("", views.index, name="response_index"),
]
