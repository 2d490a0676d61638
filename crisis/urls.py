"""Root URL configuration (project wiring)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, URLResolver, include, path
from django.views.i18n import set_language

from crisis import views
from crisis.api import api
from monitoring.api import router as monitoring_router

# Project wiring (the one place crisis may name the layers above it): each app's API router.
api.add_router("/", monitoring_router)


def _exempt_from_login(patterns: list[Any]) -> list[Any]:
    """The API answers 401 on its own (bearer tokens), so the login redirect must not apply."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _exempt_from_login(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            pattern.callback.login_required = False  # type: ignore[attr-defined]
    return patterns


api_urls, api_app, api_namespace = api.urls
_exempt_from_login(api_urls)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The language switch is on the login page too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("team/", views.team_roles, name="team_roles"),
    path("team/<int:user_id>/roles/", views.team_roles_edit, name="team_roles_edit"),
    path("incidents/", include("crisis.incident_urls")),
    path("monitoring/", include("monitoring.urls")),
    path("response/", include("response.urls")),
    path("review/", include("review.urls")),
    path("api/v1/", include((api_urls, api_app), namespace=api_namespace)),
    path("admin/", admin.site.urls),
]

handler403 = "crisis.views.permission_denied"
