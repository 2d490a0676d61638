"""Monitoring's part of the JSON API (mounted under /api/v1/ by crisis/urls.py)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["monitoring"])
