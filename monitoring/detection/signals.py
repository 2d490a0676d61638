"""What a detector reports: a ``Signal`` of a ``SignalKind``, and the minute and window keys
its fingerprint is made of. Shared by the burst detectors (``detectors``) and the
per-mention rules (``mention_rules``); pure Python, like the rest of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class SignalKind(StrEnum):
    VOLUME_SPIKE = "volume_spike"
    NEGATIVE_SURGE = "negative_surge"
    HIGH_REACH_NEGATIVE = "high_reach_negative"
    SENSITIVE_TERM = "sensitive_term"
    COORDINATED_POSTING = "coordinated_posting"


@dataclass(frozen=True, slots=True)
class Signal:
    kind: str
    # statistic / threshold: 1.0 is just over the line, 2.0 twice as far. Comparable
    # across kinds only roughly; within a kind it orders alerts by how bad they are.
    score: float
    metrics: dict[str, Any]
    reason: str
    fingerprint: str
    at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "score": round(self.score, 3),
            "metrics": self.metrics,
            "reason": self.reason,
            "fingerprint": self.fingerprint,
            "at": self.at.isoformat() if self.at else None,
        }


def floor_minute(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("bucket minutes must be timezone-aware datetimes")
    return moment.replace(second=0, microsecond=0)


def window_key(moment: datetime | None) -> str:
    if moment is None:
        return "none"
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%MZ")
