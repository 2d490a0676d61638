"""Severity from monitoring's signals: a score, the thresholds it is compared with, and the
explanation written to the timeline.

Each signal earns points in proportion to how far it has gone towards its own "severe"
threshold (capped at the threshold); the sum is multiplied by the crisis type's weight and
capped at 100. The score maps to a severity by two thresholds. A signal that crosses its own
threshold is named in the timeline, so a reader sees *why* severity went up, not just a number.

Everything here is pure (no database), and configurable through ``settings.FENGHUO_SEVERITY``
(a dict overriding any key of DEFAULTS; from the environment as a JSON object).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# How each signal is named on the timeline (a signal without a label shows its code).
SIGNAL_LABELS = {
    "negative_volume": gettext_lazy("negative posts"),
    "growth": gettext_lazy("growth"),
    "reach": gettext_lazy("reach"),
    "high_influence_authors": gettext_lazy("high-influence authors"),
    "sensitive_hits": gettext_lazy("sensitive-term hits"),
}
LEVEL_LABELS = {"moderate": gettext_lazy("moderate"), "severe": gettext_lazy("severe")}

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
    merged.update(settings.FENGHUO_SEVERITY or {})
    return merged


def _figure(value: float) -> str:
    """Large counts with thousands separators, ratios as they are (3.5, not 4)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


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
        """One line for the timeline, in the active language (the product's default in a
        worker): the score and each signal over its threshold."""
        parts = [
            _("score %(score)s (type weight %(weight)s)")
            % {"score": f"{self.score:.1f}", "weight": f"{self.type_weight:g}"}
        ]
        for c in self.crossings:
            label = SIGNAL_LABELS.get(c.signal, c.signal)
            level = LEVEL_LABELS.get(c.level, c.level)
            parts.append(f"{label} {_figure(c.value)} ≥ {_figure(c.threshold)}（{level}）")
        return "；".join(parts)


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
