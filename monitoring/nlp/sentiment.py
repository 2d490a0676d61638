"""Sentiment scoring: the Fenghuo model (default) and SnowNLP as a baseline engine.

Inference is plain Python over an explicit n-gram -> weight dictionary loaded from a gzipped
JSON file (format in docs/sentiment.md). It imports nothing from scikit-learn, numpy or pickle,
so loading a model file can never execute code.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, Protocol

from .text import NORMALIZATION, features, normalize

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_MODEL_PATH",
    "ENGINES",
    "NEGATIVE_BELOW",
    "POSITIVE_FROM",
    "FenghuoEngine",
    "ModelFormatError",
    "SentimentEngine",
    "SentimentModel",
    "SnowNLPEngine",
    "get_model",
    "get_sentiment_engine",
    "load_model",
    "polarity",
    "resolve_engine_name",
    "score",
]

MODEL_FORMAT = "fenghuo-sentiment"
MODEL_VERSION = 1
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "models" / "sentiment-weibo.json.gz"
DEFAULT_ENGINE = "fenghuo"

# Polarity bands over the positive probability: [0, 0.45) negative, [0.45, 0.65) neutral,
# [0.65, 1] positive. The band leans positive on purpose: a crisis console must not lose
# negative posts to "neutral", so only a thin slice below the 0.5 decision point is given up
# (86% of held-out negative posts stay "negative"), while a quarter of SMP2020 posts labelled
# neutral fall in the band. Measurements in docs/sentiment.md.
NEGATIVE_BELOW = 0.45
POSITIVE_FROM = 0.65


class ModelFormatError(ValueError):
    """The file is not a Fenghuo sentiment model this code can score with."""


def _sigmoid(x: float) -> float:
    # Split by sign so that math.exp never overflows on extreme scores.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@dataclass(frozen=True)
class SentimentModel:
    """A loaded model: ``sigmoid(scale * (bias + sum(w) / sqrt(n) - threshold))``."""

    weights: dict[str, float]
    bias: float
    scale: float
    threshold: float
    ngram_lo: int
    ngram_hi: int
    header: dict[str, Any]

    def raw_score(self, norm: str) -> float:
        grams = features(norm, self.ngram_lo, self.ngram_hi)
        # map(dict.get, grams, repeat(0.0)) keeps the per-n-gram loop in C with one lookup per
        # n-gram; this is the hot path of ingest.
        total = sum(map(self.weights.get, grams, repeat(0.0)))
        return self.bias + total / math.sqrt(len(grams) or 1)

    def score_normalized(self, norm: str) -> float:
        """Probability that already-normalised text is positive."""
        if not norm:
            return 0.5
        return _sigmoid(self.scale * (self.raw_score(norm) - self.threshold))

    def score(self, text: str) -> float:
        """Probability that ``text`` is positive (>= 0.5 means positive)."""
        return self.score_normalized(normalize(text))


def load_model(path: str | os.PathLike[str]) -> SentimentModel:
    """Load and validate a model file (gzipped JSON; plain JSON is accepted too)."""
    p = Path(path)
    with open(p, "rb") as fh:
        magic = fh.read(2)
    opener: Callable[..., Any] = gzip.open if magic == b"\x1f\x8b" else open
    with opener(p, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or not isinstance(data.get("header"), dict):
        raise ModelFormatError(f"{p}: not a model file (no header object)")
    header = data["header"]
    if header.get("format") != MODEL_FORMAT:
        raise ModelFormatError(f"{p}: format {header.get('format')!r}, expected {MODEL_FORMAT!r}")
    if header.get("version") != MODEL_VERSION:
        raise ModelFormatError(f"{p}: unsupported version {header.get('version')!r}")
    if header.get("normalization") != NORMALIZATION:
        # Scoring text normalised differently from training silently degrades every score.
        raise ModelFormatError(
            f"{p}: trained with normalisation {header.get('normalization')!r}, this code "
            f"implements {NORMALIZATION!r}; retrain with `manage.py train_sentiment`"
        )
    weights = data.get("weights")
    if not isinstance(weights, dict):
        raise ModelFormatError(f"{p}: weights must be an object of n-gram -> number")
    lo, hi = header["features"]["char_ngram_range"]
    return SentimentModel(
        weights={str(k): float(v) for k, v in weights.items()},
        bias=float(header["bias"]),
        scale=float(header["scale"]),
        threshold=float(header["threshold"]),
        ngram_lo=int(lo),
        ngram_hi=int(hi),
        header=header,
    )


_model_lock = threading.Lock()
_models: dict[str, SentimentModel] = {}


def get_model(path: str | os.PathLike[str] | None = None) -> SentimentModel:
    """The process-wide model, loaded on first use.

    ``FENGHUO_SENTIMENT_MODEL`` overrides the committed file, e.g. to try a retrained model.
    """
    resolved = str(path or os.environ.get("FENGHUO_SENTIMENT_MODEL") or DEFAULT_MODEL_PATH)
    model = _models.get(resolved)
    if model is None:
        with _model_lock:
            model = _models.get(resolved)
            if model is None:
                model = load_model(resolved)
                _models[resolved] = model
    return model


def polarity(sentiment: float) -> str:
    """``negative`` / ``neutral`` / ``positive`` from the positive probability."""
    if sentiment < NEGATIVE_BELOW:
        return "negative"
    if sentiment >= POSITIVE_FROM:
        return "positive"
    return "neutral"


class SentimentEngine(Protocol):
    name: str

    def score(self, text: str) -> float:
        """Probability in [0, 1] that ``text`` is positive."""
        ...

    def score_normalized(self, norm: str) -> float:
        """The same for text already passed through :func:`normalize`."""
        ...


class FenghuoEngine:
    name = "fenghuo"

    def __init__(self, model: SentimentModel | None = None) -> None:
        self._model = model

    @property
    def model(self) -> SentimentModel:
        if self._model is None:
            self._model = get_model()
        return self._model

    def score(self, text: str) -> float:
        return self.model.score(text)

    def score_normalized(self, norm: str) -> float:
        return self.model.score_normalized(norm)


class SnowNLPEngine:
    """SnowNLP's bundled Naive Bayes (trained on shopping reviews): a baseline, and slow."""

    name = "snownlp"

    def score(self, text: str) -> float:
        return self.score_normalized(normalize(text))

    def score_normalized(self, norm: str) -> float:
        if not norm:
            return 0.5
        from snownlp import SnowNLP  # imported lazily: it loads its own model files on import

        return float(SnowNLP(norm).sentiments)


ENGINES: dict[str, Callable[[], SentimentEngine]] = {
    "fenghuo": FenghuoEngine,
    "snownlp": SnowNLPEngine,
}
_engines: dict[str, SentimentEngine] = {}


def resolve_engine_name(name: str | None = None) -> str:
    """Explicit name, else ``SENTIMENT_ENGINE`` from the environment, else ``fenghuo``."""
    chosen = (name or os.environ.get("SENTIMENT_ENGINE") or DEFAULT_ENGINE).strip().lower()
    if chosen not in ENGINES:
        raise ValueError(f"unknown sentiment engine {chosen!r}; choose one of {sorted(ENGINES)}")
    return chosen


def get_sentiment_engine(name: str | None = None) -> SentimentEngine:
    """A shared engine instance by name (see :func:`resolve_engine_name`)."""
    key = resolve_engine_name(name)
    engine = _engines.get(key)
    if engine is None:
        engine = _engines.setdefault(key, ENGINES[key]())
    return engine


def score(text: str, *, engine: str | None = None) -> float:
    """Probability that ``text`` is positive, with the chosen engine."""
    return get_sentiment_engine(engine).score(text)
