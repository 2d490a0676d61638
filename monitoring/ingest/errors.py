"""Errors raised by the ingest parsing layer.

Two kinds, so callers can tell a bad record (reject it, keep going) from a bad payload
(nothing in it can be trusted; store it and report it).
"""

from __future__ import annotations


class IngestError(ValueError):
    """Base class: every failure of this package that is caused by the input."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ItemError(IngestError):
    """One record cannot be turned into a NormalizedItem; the rest of the batch is fine."""


class PayloadError(IngestError):
    """The whole payload is unusable (undecodable bytes, malformed JSON/XML/CSV, empty...)."""


class FetchError(IngestError):
    """An HTTP fetch failed: network error, bad status, body too large, refused scheme."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MappingError(IngestError):
    """A field mapping for a polled JSON API is itself invalid (a configuration error)."""
