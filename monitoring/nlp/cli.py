"""Stream logic of ``manage.py analyze`` and ``manage.py train_sentiment``, without Django.

The management commands are thin wrappers around these functions so that tests (and scripts)
can drive them with in-memory streams.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from . import analyze_many
from .sentiment import resolve_engine_name
from .training import (
    DEFAULT_DATA_FILES,
    DEFAULT_HOLDOUT,
    DEFAULT_SEED,
    Example,
    TrainResult,
    run_training,
)

__all__ = [
    "ANALYZE_HELP",
    "default_data_dir",
    "default_training_paths",
    "format_metrics",
    "run_analyze",
    "run_train",
]

ANALYZE_HELP = """\
Read JSON Lines from stdin, one object {"id": ..., "text": "..."} per line, and write one JSON
line per input line, in input order:
  {"id": ..., "sentiment": 0.0-1.0, "polarity": "negative|neutral|positive",
   "keywords": [...], "crisis_type": "<code>" or null}
"sentiment" is the probability that the text is positive (>= 0.5 means positive).
A line that is not valid UTF-8 or JSON, is not an object, or has no string "text" gives
  {"line": N, "error": "..."}
in its place (N is the 1-based line number in the input) and processing goes on.
Blank (whitespace-only) lines are skipped and produce no output, so output line k answers the
k-th non-blank input line. "id" is copied as given (null when absent). Exit status is 0.
"""

_BATCH = 256


class TextSink(Protocol):
    """Where results go: a text stream, or Django's OutputWrapper."""

    def write(self, s: str, /) -> Any: ...


def _parse(raw: str | bytes, lineno: int) -> tuple[Any, str] | dict[str, Any]:
    """(id, text) for a good line, else the error object to print in its place."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return {"line": lineno, "error": f"invalid UTF-8: {exc.reason} at byte {exc.start}"}
    if lineno == 1:
        raw = raw.lstrip("\ufeff")
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {"line": lineno, "error": f"invalid JSON: {exc.msg} (column {exc.colno})"}
    if not isinstance(obj, dict):
        return {"line": lineno, "error": f"expected a JSON object, got {type(obj).__name__}"}
    if "text" not in obj:
        return {"line": lineno, "error": 'missing "text"'}
    text = obj["text"]
    if not isinstance(text, str):
        return {"line": lineno, "error": f'"text" must be a string, got {type(text).__name__}'}
    return obj.get("id"), text


def run_analyze(
    lines: Iterable[str | bytes],
    out: TextSink,
    *,
    engine: str | None = None,
    batch_size: int = _BATCH,
) -> int:
    """Analyse JSON Lines from ``lines`` into ``out`` (see :data:`ANALYZE_HELP`).

    Returns the number of output lines. Lines are analysed in batches for speed, but output
    order always follows input order, errors included.
    """
    resolve_engine_name(engine)  # fail fast on an unknown engine, before reading input
    written = 0
    pending: list[tuple[Any, str] | dict[str, Any]] = []

    def flush() -> None:
        nonlocal written
        goods = [p for p in pending if isinstance(p, tuple)]
        results = iter(analyze_many([text for _, text in goods], engine=engine))
        for item in pending:
            if isinstance(item, dict):
                record = item
            else:
                a = next(results)
                record = {
                    "id": item[0],
                    "sentiment": round(min(max(a.sentiment, 0.0), 1.0), 4),
                    "polarity": a.polarity,
                    "keywords": a.keywords,
                    "crisis_type": a.crisis_type,
                }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
        pending.clear()
        flush_out = getattr(out, "flush", None)
        if flush_out is not None:
            flush_out()

    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        pending.append(_parse(raw, lineno))
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    return written


def default_data_dir() -> Path:
    """``FENGHUO_SENTIMENT_DATA`` or ``../shared/data/sentiment`` next to the repository."""
    env = os.environ.get("FENGHUO_SENTIMENT_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    return repo.parent / "shared" / "data" / "sentiment"


def default_training_paths() -> list[Path]:
    base = default_data_dir()
    return [base / name for name in DEFAULT_DATA_FILES]


def format_metrics(result: TrainResult) -> str:
    m = result.heldout_metrics
    if m is None:
        return "no held-out examples (holdout 0 or no Weibo-format file)"
    return (
        f"held-out Weibo posts: n={m.n} accuracy={m.accuracy:.4f} "
        f"negative recall={m.negative_recall:.4f} negative precision={m.negative_precision:.4f} "
        f"negative F1={m.negative_f1:.4f} macro F1={m.macro_f1:.4f}"
    )


def run_train(
    *,
    data: Sequence[str | os.PathLike[str]] | None,
    out: str | os.PathLike[str],
    holdout: float = DEFAULT_HOLDOUT,
    seed: int = DEFAULT_SEED,
    extra: Iterable[Example] = (),
    log: Callable[[str], None] = print,
) -> TrainResult:
    paths = list(data) if data else [str(p) for p in default_training_paths()]
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"training data not found: {', '.join(missing)}")
    result = run_training(paths, out, seed=seed, holdout=holdout, extra=extra, log=log)
    log(format_metrics(result))
    return result
