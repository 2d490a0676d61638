from __future__ import annotations

from django.urls import path

from review import views

urlpatterns = [
    path("", views.index, name="review_index"),
]
