"""The normalized item every ingest path produces, and the result of parsing a batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Optional fields counted when two records of one batch share (platform, external_id):
# the record that fills more of them wins (see ParseResult.duplicates_in_batch).
_OPTIONAL_FIELDS: tuple[str, ...] = (
    "url",
    "author_id",
    "author_name",
    "author_followers",
    "reposts",
    "comments",
    "likes",
    "views",
    "parent_id",
    "root_id",
    "location",
    "title",
)


@dataclass(frozen=True, slots=True)
class NormalizedItem:
    external_id: str
    platform: str
    text: str
    posted_at: datetime
    url: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    author_followers: int | None = None
    author_verified: bool = False
    reposts: int | None = None
    comments: int | None = None
    likes: int | None = None
    views: int | None = None
    parent_id: str | None = None
    root_id: str | None = None
    location: str | None = None
    title: str | None = None
    # The record as received; excluded from equality/hash/repr because it is a mutable
    # dict and only kept for audit and re-processing.
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        """Identity of a mention across sources: the unique key the database enforces."""
        return (self.platform, self.external_id)

    def completeness(self) -> int:
        return sum(getattr(self, name) is not None for name in _OPTIONAL_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """The documented normalized JSON shape (accepted back by normalize_record)."""
        return {
            "external_id": self.external_id,
            "platform": self.platform,
            "text": self.text,
            "url": self.url,
            "posted_at": self.posted_at.isoformat(),
            "author": {
                "id": self.author_id,
                "name": self.author_name,
                "followers": self.author_followers,
                "verified": self.author_verified,
            },
            "metrics": {
                "reposts": self.reposts,
                "comments": self.comments,
                "likes": self.likes,
                "views": self.views,
            },
            "parent_id": self.parent_id,
            "root_id": self.root_id,
            "location": self.location,
            "title": self.title,
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that could not be normalized.

    index is the 0-based record index for JSON arrays / objects and feeds, and the
    1-based line number for JSON Lines and CSV (see docs/ingest-formats.md).
    """

    index: int
    error: str


@dataclass(slots=True)
class ParseResult:
    items: list[NormalizedItem] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    duplicates_in_batch: int = 0
    format: str = ""
    encoding: str | None = None


def dedupe_items(items: list[NormalizedItem]) -> tuple[list[NormalizedItem], int]:
    """Collapse records sharing (platform, external_id).

    The more complete record wins, the later one on a tie (a later crawl has fresher
    metrics); the survivor keeps the position of the first occurrence so that an
    original emitted before its reposts stays before them.
    """
    positions: dict[tuple[str, str], int] = {}
    kept: list[NormalizedItem] = []
    duplicates = 0
    for item in items:
        key = (item.platform, item.external_id)
        pos = positions.get(key)
        if pos is None:
            positions[key] = len(kept)
            kept.append(item)
            continue
        duplicates += 1
        if item.completeness() >= kept[pos].completeness():
            kept[pos] = item
    return kept, duplicates
