"""Sentiment scoring: the Fenghuo model (default) and SnowNLP as a baseline engine.

The model is an explicit n-gram -> weight dictionary loaded from a gzipped JSON file (format
in docs/sentiment.md); nothing from scikit-learn or pickle is involved, so loading a model file
can never execute code. Scoring is vectorised with numpy over a batch of texts (grams.py):
ingest scores a thousand posts in one call.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .grams import GramTable, code_points, pack, packed_grams
from .text import EMOJI_RE, END_CHARS, END_PREFIX, NORMALIZATION, normalize, split_emoji

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


# Code points per key in the packed n-gram table: every Unicode code point fits in 21 bits, so
# an n-gram of up to three characters is one 64-bit key (see grams.py).
_KEY_BITS = 21
_END_CODE = ord(END_PREFIX)


@dataclass(frozen=True)
class SentimentModel:
    """A loaded model: ``sigmoid(scale * (bias + sum(w) / sqrt(n) - threshold))``.

    The weights of the character n-grams and the end features live in a :class:`GramTable`
    (packed keys); emoji tokens, which are longer, in a small dict. Scoring computes exactly
    the features :func:`.text.features` defines, for a whole batch at once.
    """

    table: GramTable
    tokens: dict[str, float]
    bias: float
    scale: float
    threshold: float
    ngram_lo: int
    ngram_hi: int
    header: dict[str, Any]

    @property
    def vocab_size(self) -> int:
        return self.table.size + len(self.tokens)

    def raw_scores(self, norms: Sequence[str]) -> np.ndarray:
        """``bias + sum(w) / sqrt(n)`` of each normalised text (bias alone for an empty one)."""
        count = len(norms)
        if not count:
            return np.zeros(0)
        plains: list[str] = []
        tails: list[str] = []
        token_sum = np.zeros(count)
        token_count = np.zeros(count)
        tokens = self.tokens
        for i, norm in enumerate(norms):
            plain, emoji = split_emoji(norm)
            if emoji:
                token_sum[i] = sum(tokens.get(code, 0.0) for code in emoji)
                token_count[i] = len(emoji)
            plains.append(plain)
            tails.append(plain.rstrip()[-END_CHARS:])
        keys: list[np.ndarray] = []
        docs: list[np.ndarray] = []
        codes, starts = code_points(plains)
        lengths = range(self.ngram_lo, self.ngram_hi + 1)
        for _n, positions, packed in packed_grams(codes, lengths, bits=_KEY_BITS):
            keys.append(packed)
            docs.append(np.searchsorted(starts, positions, side="right") - 1)
        # End features: END_PREFIX followed by a unigram or bigram of the tail.
        codes, starts = code_points(tails)
        for _n, positions, packed in packed_grams(codes, (1, 2), bits=_KEY_BITS):
            keys.append((packed << np.uint64(_KEY_BITS)) | np.uint64(_END_CODE))
            docs.append(np.searchsorted(starts, positions, side="right") - 1)
        all_keys = np.concatenate(keys)
        all_docs = np.concatenate(docs)
        total = np.bincount(all_docs, weights=self.table.lookup(all_keys), minlength=count)
        n = np.bincount(all_docs, minlength=count) + token_count
        return self.bias + (total + token_sum) / np.sqrt(np.maximum(n, 1))

    def raw_score(self, norm: str) -> float:
        return float(self.raw_scores([norm])[0])

    def score_many(self, norms: Sequence[str]) -> list[float]:
        """Probability that each already-normalised text is positive (0.5 for empty text)."""
        raw = self.raw_scores(norms)
        return [
            _sigmoid(self.scale * (r - self.threshold)) if norm else 0.5
            for norm, r in zip(norms, raw.tolist(), strict=True)
        ]

    def score_normalized(self, norm: str) -> float:
        """Probability that already-normalised text is positive."""
        return self.score_many([norm])[0]

    def score(self, text: str) -> float:
        """Probability that ``text`` is positive (>= 0.5 means positive)."""
        return self.score_normalized(normalize(text))


def _weight_table(weights: dict[str, Any], path: Path) -> tuple[GramTable, dict[str, float]]:
    """Split the model's feature -> weight object into packed n-grams and emoji tokens."""
    keys: list[int] = []
    values: list[float] = []
    tokens: dict[str, float] = {}
    for feature, weight in weights.items():
        if not isinstance(feature, str) or not isinstance(weight, int | float):
            raise ModelFormatError(f"{path}: weights must map features to numbers")
        if EMOJI_RE.fullmatch(feature):
            tokens[feature] = float(weight)
            continue
        key = pack(feature, _KEY_BITS) if len(feature) <= 3 else 0
        if not key:
            raise ModelFormatError(f"{path}: feature {feature!r} is not one this code computes")
        keys.append(key)
        values.append(float(weight))
    return GramTable(np.array(keys, dtype=np.uint64), np.array(values)), tokens


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
    table, tokens = _weight_table(weights, p)
    return SentimentModel(
        table=table,
        tokens=tokens,
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

    def score_many(self, norms: Sequence[str]) -> list[float]:
        """:meth:`score_normalized` of each text, in order."""
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

    def score_many(self, norms: Sequence[str]) -> list[float]:
        return self.model.score_many(norms)


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

    def score_many(self, norms: Sequence[str]) -> list[float]:
        return [self.score_normalized(norm) for norm in norms]


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
