from __future__ import annotations

from django import template

from crisis.models import MilestoneKind, Status

register = template.Library()


@register.filter
def milestone_label(kind: str) -> str:
    try:
        return str(MilestoneKind(kind).label)
    except ValueError:
        return kind


@register.filter
def status_label(status: str) -> str:
    try:
        return str(Status(status).label)
    except ValueError:
        return status


@register.filter
def http_url(url: str) -> str:
    """The URL if it is http(s), else empty: only such links are ever rendered."""
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else ""


@register.filter
def person(user: object, fallback: str = "—") -> str:
    """A user's whole name, else the username; ``fallback`` for no user (the system)."""
    if user is None:
        return fallback
    full = getattr(user, "get_full_name", lambda: "")()
    return str(full or getattr(user, "get_username", lambda: fallback)())


@register.filter
def audit_text(event: object) -> str:
    """An audit row as a sentence in the reader's language (crisis.audit_text)."""
    from crisis.audit_text import describe

    return describe(event)  # type: ignore[arg-type]
