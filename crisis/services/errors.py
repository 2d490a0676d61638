"""The refusals of every app's services (defined in ``crisis.errors``, which loads no models)."""

from __future__ import annotations

from crisis.errors import ConflictError, ForbiddenError, IncidentError, InvalidError, ServiceError

__all__ = ["ConflictError", "ForbiddenError", "IncidentError", "InvalidError", "ServiceError"]
