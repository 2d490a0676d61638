from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from crisis.selectors import unread_count, user_role_labels


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the base template needs on every page: the user's role labels and unread count."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_role_labels": []}
    return {
        "user_role_labels": user_role_labels(user),
        # lazy: only pages that render the header pay for the query
        "unread_notifications": lambda: unread_count(user=user),
    }
