"""What every app's views share: the HTMX request type, the incident page's form action, the
polling answers, and the one way a service's refusal becomes a response.

A refusal (``crisis.services.ServiceError`` or a subclass, from any app) carries its HTTP
status: 403 for ``ForbiddenError``, 409 for ``ConflictError``, 400 otherwise. A form on a
page shows it as a message and goes back (``incident_form_action``); a request that wants
JSON, or a refusal no view handled, gets ``service_error_response``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseStopPolling
from django_htmx.middleware import HtmxDetails

from crisis.errors import ForbiddenError, ServiceError
from crisis.models import Incident
from crisis.policies import require

__all__ = [
    "HtmxHttpRequest",
    "HttpResponseStopPolling",
    "Outcome",
    "back_to_incident",
    "form_errors",
    "incident_for_user",
    "incident_form_action",
    "request_actor",
    "service_error_response",
    "stop_polling",
    "unchanged_panel",
]


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def request_actor(request: HttpRequest) -> User:
    """The logged-in user (LoginRequiredMiddleware guarantees one on the console's views)."""
    return cast(User, request.user)


def incident_for_user(request: HttpRequest, incident_id: int) -> Incident:
    """The incident, if the user may see the console at all (every role may see incidents)."""
    require(request.user, "view_console")
    return get_object_or_404(Incident, pk=incident_id)


def back_to_incident(request: HttpRequest, incident: Incident) -> HttpResponse:
    """Back to where the form was (``next``, a local URL), else the incident page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("incident_detail", incident_id=incident.pk)


def form_errors(form: Any) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


# What a form action says when it worked: a success text, or (messages level, text).
Outcome = str | tuple[int, str] | None


def incident_form_action(
    request: HtmxHttpRequest,
    incident_id: int,
    form_class: type[forms.Form],
    act: Callable[[Incident, dict[str, Any]], Outcome],
) -> HttpResponse:
    """The shape of the incident page's forms (of every app): validate, call the service
    through ``act``, say what happened, and go back to the page. A refusal of the service
    (ServiceError) becomes an error message; a ForbiddenError (``act`` may check a policy)
    is the 403 page."""
    incident = incident_for_user(request, incident_id)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return back_to_incident(request, incident)
    try:
        outcome = act(incident, form.cleaned_data)
    except ForbiddenError:
        raise
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        if isinstance(outcome, tuple):
            messages.add_message(request, *outcome)
        elif outcome:
            messages.success(request, outcome)
    return back_to_incident(request, incident)


def service_error_response(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    """A refusal as a response with its status: JSON ``{"error": ...}`` when the client asks
    for JSON, else the refusal page."""
    message = str(exc) or _("You may not do this.")
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"error": message}, status=exc.status_code)
    return render(request, "403.html", {"message": message}, status=exc.status_code)


# --- polling --------------------------------------------------------------------------------


def unchanged_panel(request: HttpRequest, token: str) -> HttpResponse | None:
    """204 when the polling client already shows ``token`` (htmx keeps the DOM, nothing is
    rendered); None when the panel must be rendered."""
    if request.GET.get("token") == token:
        return HttpResponse(status=204)
    return None


def stop_polling(content: str = "") -> HttpResponse:
    """The answer for a panel that has nothing left to watch (a closed incident, a finished
    approval): htmx swaps ``content`` in and stops polling (HTTP 286)."""
    return HttpResponseStopPolling(content)
