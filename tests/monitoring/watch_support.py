"""Helpers of the watch-topic / alert tests (issue 5): posts, a push, and a keyword stand-in
for the NLP layer (deterministic polarity and crisis type)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from monitoring import nlp
from monitoring.ingest import NormalizedItem

NEGATIVE_WORDS = (
    "投诉",
    "差评",
    "异物",
    "过期",
    "恶心",
    "骗",
    "退款",
    "拉肚子",
    "查封",
    "太差",
    "离谱",
    "漏",
)


@dataclass
class _Analysis:
    sentiment: float
    polarity: str
    crisis_type: str
    keywords: list[str] = field(default_factory=list)


def _stub_analyze(text: str) -> _Analysis:
    if any(word in text for word in NEGATIVE_WORDS):
        kind = "false_information" if ("曝" in text or "谣" in text) else "complaint_outbreak"
        return _Analysis(0.1, "negative", kind)
    return _Analysis(0.6, "neutral", "")


@pytest.fixture(autouse=True)
def nlp_available(monkeypatch: pytest.MonkeyPatch) -> None:
    """A keyword stand-in for the sentiment model: these tests are about rollups and alerts,
    and must not move when the model is retrained."""
    monkeypatch.setattr(
        nlp, "analyze_many", lambda texts: [_stub_analyze(t) for t in texts], raising=False
    )


def item(external_id: str, text: str, posted_at: datetime, **extra: Any) -> NormalizedItem:
    values: dict[str, Any] = {
        "external_id": external_id,
        "platform": "weibo",
        "text": text,
        "posted_at": posted_at,
        "author_id": f"u-{external_id}",
        "author_name": f"网友{external_id}",
        "author_followers": 100,
        "likes": 1,
    }
    values.update(extra)
    return NormalizedItem(**values)


def payload(posts: list[dict[str, Any]]) -> bytes:
    return json.dumps({"items": posts}, ensure_ascii=False).encode("utf-8")
