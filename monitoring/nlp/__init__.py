"""Fenghuo NLP: sentiment, keywords and crisis type of Weibo-style Chinese posts.

Pure Python: importable and usable without Django. Models and dictionaries load lazily, once
per process, on first use. The one entry point ingest needs is :func:`analyze_many`.

    >>> from monitoring.nlp import analyze_text
    >>> a = analyze_text("APP又崩了，一直闪退[怒]")
    >>> a.polarity, a.crisis_type
    ('negative', 'technical_failure')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .crisis_type import CRISIS_TYPES, classify_crisis_type
from .keywords import add_user_terms, extract_keywords, extract_keywords_many, tokenize
from .sentiment import (
    NEGATIVE_BELOW,
    POSITIVE_FROM,
    get_sentiment_engine,
    polarity,
    resolve_engine_name,
)
from .text import normalize, own_words

__all__ = [
    "CRISIS_TYPES",
    "NEGATIVE_BELOW",
    "POSITIVE_FROM",
    "Analysis",
    "add_user_terms",
    "analyze_many",
    "analyze_text",
    "classify_crisis_type",
    "extract_keywords",
    "extract_keywords_many",
    "get_sentiment_engine",
    "normalize",
    "own_words",
    "polarity",
    "tokenize",
    "warm_up",
]

KEYWORDS_PER_TEXT = 5


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the NLP layer says about one post."""

    sentiment: float  # probability that the post is positive, in [0, 1]
    polarity: str  # "negative" | "neutral" | "positive"
    keywords: list[str]
    crisis_type: str | None  # one of CRISIS_TYPES, or None


def analyze_text(text: str, *, engine: str | None = None) -> Analysis:
    """Analyse one post. ``engine``: "fenghuo" (default) or "snownlp"; when omitted, the
    ``SENTIMENT_ENGINE`` environment variable decides."""
    return analyze_many([text], engine=engine)[0]


def analyze_many(texts: Iterable[str], *, engine: str | None = None) -> list[Analysis]:
    """Analyse posts in order. Each text is normalised once; sentiment and keywords are
    computed for the whole batch at once (vectorised), which is what makes ingest fast."""
    norms = [normalize(t or "") for t in texts]
    sentiments = get_sentiment_engine(engine).score_many(norms)
    keywords = extract_keywords_many(norms, KEYWORDS_PER_TEXT)
    return [
        Analysis(
            sentiment=sentiment,
            polarity=polarity(sentiment),
            keywords=words,
            crisis_type=classify_crisis_type(norm, sentiment=sentiment, normalized=True),
        )
        if norm
        else Analysis(sentiment=0.5, polarity="neutral", keywords=[], crisis_type=None)
        for norm, sentiment, words in zip(norms, sentiments, keywords, strict=True)
    ]


def warm_up(engine: str | None = None) -> None:
    """Load the model and dictionaries now (e.g. at worker start) instead of on first use."""
    resolve_engine_name(engine)
    analyze_text("预热：APP崩了[怒]", engine=engine)
