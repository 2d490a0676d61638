"""View decorators for a role capability. What a role may do is decided in
``crisis.policies``; this module only wraps it for views, so every refusal looks the same."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse

from crisis.policies import require, roles_holding

View = TypeVar("View", bound=Callable[..., HttpResponse])

__all__ = ["capability_required", "require_capability", "roles_holding"]


def require_capability(user: Any, codename: str) -> None:
    """Raise ForbiddenError (a PermissionDenied: the 403 page) naming the roles that may."""
    require(user, codename)


def capability_required(codename: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            require(request.user, codename)
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
