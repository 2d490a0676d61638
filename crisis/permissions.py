"""The one way views check a role capability, so every refusal looks the same."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from crisis.roles import CAPABILITIES, ROLE_LABELS, perm

View = TypeVar("View", bound=Callable[..., HttpResponse])


def roles_holding(codename: str) -> str:
    return "、".join(str(ROLE_LABELS[r]) for r in CAPABILITIES[codename][1])


def require_capability(user: Any, codename: str) -> None:
    """Raise PermissionDenied with a message naming the roles that may do this."""
    if not user.has_perm(perm(codename)):
        raise PermissionDenied(
            _("Your role does not allow this action. It needs one of these roles: %(roles)s.")
            % {"roles": roles_holding(codename)}
        )


def capability_required(codename: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            require_capability(request.user, codename)
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
