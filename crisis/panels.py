"""Panel slots on the incident page that the apps above fill by URL name.

crisis does not import them: the incident page reverses each slot's URL name and, when an
app has registered a URL of that name (taking ``incident_id``), puts an ``hx-get`` placeholder
that loads the panel. Slots whose URL does not exist yet are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# (slot, URL name another app defines with an ``incident_id`` argument, heading)
INCIDENT_PANEL_SLOTS = [
    ("evidence", "monitoring_incident_panel", _("Evidence, signals and propagation")),
    ("statements", "response_incident_panel", _("Statements")),
    ("postmortem", "review_incident_panel", _("Post-mortem")),
]


@dataclass(frozen=True)
class Panel:
    slot: str
    url: str
    heading: str


def incident_panels(*, incident_id: int) -> list[Panel]:
    panels = []
    for slot, url_name, heading in INCIDENT_PANEL_SLOTS:
        try:
            url = reverse(url_name, kwargs={"incident_id": incident_id})
        except NoReverseMatch:
            continue
        panels.append(Panel(slot=slot, url=url, heading=str(heading)))
    return panels
