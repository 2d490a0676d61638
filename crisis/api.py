"""The JSON API under /api/v1/. Routers of the other apps are attached in crisis/urls.py,
which is project wiring, so no import goes up the layers from here."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(
    title="Fenghuo API",
    version="1",
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url=None,  # the bundled docs page loads Swagger UI from a CDN
)
