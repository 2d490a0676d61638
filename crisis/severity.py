"""Severity from monitoring's signals: a score, the thresholds it is compared with, and the
explanation written to the timeline.

Each signal earns points in proportion to how far it has gone towards its own "severe"
threshold (capped at the threshold); the sum is multiplied by the crisis type's weight and
capped at 100. The score maps to a severity by two thresholds. A signal that crosses its own
threshold is named in the timeline, so a reader sees *why* severity went up, not just a number.

Everything here is pure (no database), and configurable through ``settings.FENGHUO_SEVERITY``
(a dict overriding any key of DEFAULTS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # signal -> (moderate threshold, severe threshold, points at or above severe)
    "signals": {
        # negative mentions in the current window
        "negative_volume": (200, 1000, 30),
        # growth: this window's negative volume over the topic's baseline (3.0 = three times)
        "growth": (3.0, 10.0, 20),
        # estimated people reached by the negative posts
        "reach": (1_000_000, 10_000_000, 25),
        # authors with more than 100k followers or verified, posting negatively
        "high_influence_authors": (3, 10, 15),
        # hits of the sensitive-term library (legal, safety, regulator words)
        "sensitive_hits": (1, 5, 10),
    },
    # score at or above which the severity is at least moderate / severe
    "moderate_score": 35.0,
    "severe_score": 65.0,
    # crisis types that hurt more per mention (a ban or a false rumour spreads trust damage)
    "type_weights": {
        "false_information": 1.2,
        "exaggerated_claims": 1.0,
        "wrong_data": 1.1,
        "negative_comment_surge": 1.0,
        "complaint_outbreak": 1.1,
        "account_banned": 1.3,
        "improper_advertising": 1.2,
        "chaotic_event": 1.0,
        "technical_failure": 1.0,
    },
}


def config() -> dict[str, Any]:
    merged = dict(DEFAULTS)
    merged.update(getattr(settings, "FENGHUO_SEVERITY", {}) or {})
    return merged


@dataclass(frozen=True)
class SignalCrossing:
    signal: str
    value: float
    threshold: float
    level: str  # moderate | severe


@dataclass(frozen=True)
class SeverityAssessment:
    score: float
    severity: str  # minor | moderate | severe
    crossings: tuple[SignalCrossing, ...]
    type_weight: float

    def explain(self) -> str:
        """One line for the timeline: the score and each signal over its threshold."""
        parts = [f"score {self.score:.1f} (type weight {self.type_weight:g})"]
        for c in self.crossings:
            parts.append(f"{c.signal} {c.value:g} ≥ {c.threshold:g} ({c.level})")
        return "; ".join(parts)


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number > 0 else 0.0


def assess(*, signals: dict[str, Any], crisis_type: str = "") -> SeverityAssessment:
    cfg = config()
    score = 0.0
    crossings: list[SignalCrossing] = []
    for name, (moderate, severe, points) in cfg["signals"].items():
        value = _number(signals.get(name))
        score += points * min(1.0, value / severe) if severe else 0.0
        if value >= severe:
            crossings.append(SignalCrossing(name, value, severe, "severe"))
        elif value >= moderate:
            crossings.append(SignalCrossing(name, value, moderate, "moderate"))
    weight = float(cfg["type_weights"].get(crisis_type, 1.0))
    score = min(100.0, round(score * weight, 1))
    if score >= cfg["severe_score"]:
        severity = "severe"
    elif score >= cfg["moderate_score"]:
        severity = "moderate"
    else:
        severity = "minor"
    return SeverityAssessment(score, severity, tuple(crossings), weight)
