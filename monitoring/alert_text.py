"""Alert explanations in the reader's language.

The detectors write an English ``reason`` for logs; what people read is rebuilt here from the
alert's metrics through gettext, so the Chinese UI explains an alert in Chinese. An alert whose
metrics lack what a sentence needs (older rows, a new detector) falls back to the stored reason.
"""

from __future__ import annotations

from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _


def _num(value: Any) -> str:
    return number_format(value, decimal_pos=0, force_grouping=True)


def _pct(value: Any) -> str:
    return f"{float(value) * 100:.0f}%"


def alert_summary(kind: str, metrics: dict[str, Any], fallback: str) -> str:
    try:
        if kind == "volume_spike":
            return _("%(rate)s posts/min against a usual %(mean)s ± %(sd)s (z = %(z)s)") % {
                "rate": f"{float(metrics['rate']):.0f}",
                "mean": f"{float(metrics['baseline_mean']):.1f}",
                "sd": f"{float(metrics['baseline_sd']):.1f}",
                "z": f"{float(metrics['z']):.1f}",
            }
        if kind == "negative_surge":
            return _(
                "negative share %(share)s (%(negative)s of %(volume)s) over %(minutes)s min "
                "against a usual %(baseline)s (z = %(z)s)"
            ) % {
                "share": _pct(metrics["share"]),
                "negative": _num(metrics["negative"]),
                "volume": _num(metrics["volume"]),
                "minutes": metrics["window_minutes"],
                "baseline": _pct(metrics["baseline_share"]),
                "z": f"{float(metrics['z']):.1f}",
            }
        if kind == "high_reach_negative":
            return _(
                "negative post by an account with %(followers)s followers, "
                "%(engagement)s interactions"
            ) % {
                "followers": _num(metrics["followers"]),
                "engagement": _num(metrics.get("engagement") or 0),
            }
        if kind == "sensitive_term":
            return _("sensitive terms (weight %(weight)s): %(terms)s") % {
                "weight": f"{float(metrics['weight']):.0f}",
                "terms": "、".join(str(t) for t in metrics["terms"]),
            }
        if kind == "coordinated_posting":
            return _("the same text posted by %(accounts)s accounts within %(minutes)s min") % {
                "accounts": _num(metrics["accounts"]),
                "minutes": metrics["window_minutes"],
            }
    except (KeyError, TypeError, ValueError):
        pass
    return fallback
