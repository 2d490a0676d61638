"""The one family of refusals every app's services raise.

It lives outside ``crisis.services`` so pure modules (parsers, the query language) can
derive their errors from it without loading models; ``crisis.services`` re-exports it.

A service refuses with a message for the user. Views and the API turn the class into the
answer the same way (``crisis.web.service_error_response`` and the API's exception
handler): ``status_code`` is the HTTP status, the message is shown as it is. Apps above
derive their own refusals from these classes instead of from ``Exception`` or
``ValueError``, so one ``except ServiceError`` catches every refusal.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class ServiceError(Exception):
    """A refusal with a message for the user (a form error, a flash message, a 4xx)."""

    status_code = 400


class InvalidError(ServiceError):
    """The input breaks a rule (400)."""

    status_code = 400


class ForbiddenError(ServiceError, PermissionDenied):
    """The user's role may not do this (403). Also a PermissionDenied, so a view that does
    not catch it still answers with the 403 page."""

    status_code = 403


class IncidentError(InvalidError):
    """A rule of the incident core refuses the change (400)."""


class ConflictError(IncidentError):
    """Someone else changed the row first, or it is no longer in a state that allows this
    (409). A subclass of IncidentError, so ``except IncidentError`` still catches it."""

    status_code = 409
