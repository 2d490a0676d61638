"""The registry of panels on the incident page. Each app registers its own.

crisis does not know the apps above: an app's ``panels.py`` calls ``register_panel`` with the
URL name of its panel view (taking ``incident_id``), and ``CrisisConfig.ready`` imports every
installed app's ``panels`` module (Django's autodiscovery). The incident page puts an
``hx-get`` placeholder per registered panel that loads it; a panel whose URL does not resolve
is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise


@dataclass(frozen=True)
class PanelSlot:
    slot: str
    url_name: str
    heading: str | Promise
    order: int


@dataclass(frozen=True)
class Panel:
    slot: str
    url: str
    heading: str


_SLOTS: dict[str, PanelSlot] = {}


def register_panel(*, slot: str, url_name: str, heading: str | Promise, order: int) -> None:
    """Add (or replace) the panel ``slot``; panels show in ``order``, lowest first (by
    convention the layer: monitoring 100, response 200, review 300)."""
    _SLOTS[slot] = PanelSlot(slot=slot, url_name=url_name, heading=heading, order=order)


def registered_panels() -> list[PanelSlot]:
    return sorted(_SLOTS.values(), key=lambda s: (s.order, s.slot))


def incident_panels(*, incident_id: int) -> list[Panel]:
    panels = []
    for slot in registered_panels():
        try:
            url = reverse(slot.url_name, kwargs={"incident_id": incident_id})
        except NoReverseMatch:
            continue
        panels.append(Panel(slot=slot.slot, url=url, heading=str(slot.heading)))
    return panels
