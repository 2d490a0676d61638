"""Fenghuo NLP: sentiment, keywords and crisis type of Weibo-style Chinese posts.

Pure Python: importable and usable without Django. Models and dictionaries load lazily, once
per process, on first use. The one entry point ingest needs is :func:`analyze_many`.

    >>> from monitoring.nlp import analyze_text
    >>> a = analyze_text("APP又崩了，一直闪退[怒]")
    >>> a.polarity, a.crisis_type
    ('negative', 'technical_failure')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .crisis_type import CRISIS_TYPES, classify_crisis_type
from .keywords import add_user_terms, extract_keywords, tokenize
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


def _analyze_normalized(norm: str, score: Callable[[str], float]) -> Analysis:
    if not norm:
        return Analysis(sentiment=0.5, polarity="neutral", keywords=[], crisis_type=None)
    sentiment = score(norm)
    return Analysis(
        sentiment=sentiment,
        polarity=polarity(sentiment),
        keywords=extract_keywords(norm, KEYWORDS_PER_TEXT, normalized=True),
        crisis_type=classify_crisis_type(norm, sentiment=sentiment, normalized=True),
    )


def _scorer(engine: str | None) -> Callable[[str], float]:
    # Each text is normalised once and the normalised text goes to every stage.
    return get_sentiment_engine(engine).score_normalized


def analyze_text(text: str, *, engine: str | None = None) -> Analysis:
    """Analyse one post. ``engine``: "fenghuo" (default) or "snownlp"; when omitted, the
    ``SENTIMENT_ENGINE`` environment variable decides."""
    return _analyze_normalized(normalize(text or ""), _scorer(engine))


def analyze_many(texts: Iterable[str], *, engine: str | None = None) -> list[Analysis]:
    """Analyse posts in order; resolves the engine once for the whole batch."""
    score = _scorer(engine)
    return [_analyze_normalized(normalize(t or ""), score) for t in texts]


def warm_up(engine: str | None = None) -> None:
    """Load the model and dictionaries now (e.g. at worker start) instead of on first use."""
    resolve_engine_name(engine)
    analyze_text("预热：APP崩了[怒]", engine=engine)
