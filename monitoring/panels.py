"""Monitoring's panel on the incident page (registered with crisis.panels at start)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from crisis.panels import register_panel

register_panel(
    slot="evidence",
    url_name="monitoring_incident_panel",
    heading=_("Evidence, signals and propagation"),
    order=100,
)
