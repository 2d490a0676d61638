"""Analysts' corrections of a mention's polarity or crisis type.

A correction is kept as a row (who, when, what it was before, the text) and applied to the
mention; the store then leaves the corrected fields alone when the post is delivered again.
The rows are training data too (``monitoring.selectors.correction_examples``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from monitoring.models import Mention, Polarity, SentimentCorrection


def mention_correct(
    *,
    mention: Mention,
    actor: User,
    polarity: str = "",
    crisis_type: str | None = None,
    note: str = "",
) -> SentimentCorrection:
    """Store an analyst's correction and apply it to the mention. ``crisis_type=None``
    leaves the type alone; "" clears it; ``polarity=""`` leaves polarity alone."""
    if polarity and polarity not in Polarity.values:
        raise ValueError(f"unknown polarity {polarity!r}")
    if not polarity and crisis_type is None:
        raise ValueError("a correction needs a polarity or a crisis type")
    with transaction.atomic():
        current = Mention.objects.select_for_update().get(pk=mention.pk)
        correction = SentimentCorrection.objects.create(
            mention=current,
            polarity=polarity,
            crisis_type=crisis_type or "",
            previous_polarity=current.polarity,
            previous_crisis_type=current.crisis_type,
            text=current.text,
            note=note[:500],
            corrected_by=actor,
        )
        values: dict[str, Any] = {"corrected_at": timezone.now()}
        if polarity:
            values["polarity"] = polarity
        if crisis_type is not None:
            values["crisis_type"] = crisis_type
        Mention.objects.filter(pk=current.pk).update(**values)
    for name, value in values.items():
        setattr(mention, name, value)
    return correction
