"""Fenghuo project package (settings, root urls, celery app) and the incident-core app."""

from crisis.celery import app as celery_app

__all__ = ["celery_app"]
