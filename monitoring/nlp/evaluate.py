"""Evaluate sentiment engines on the held-out Weibo split recorded in the model header.

    .venv/bin/python -m monitoring.nlp.evaluate [--engines fenghuo snownlp]
    .venv/bin/python -m monitoring.nlp.evaluate --resplit-seeds 1 2 3 4   # needs scikit-learn

The split is recomputed from the raw data with the training code (same files, seed and
fraction as the committed model), so the numbers are reproducible by anyone with the data.
``--resplit-seeds`` retrains with the committed model's hyperparameters on other seeds of the
split, to show how much the held-out figure owes to the particular split.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence

from .cli import default_data_dir
from .sentiment import get_model, get_sentiment_engine
from .text import normalize
from .training import (
    Example,
    Metrics,
    TrainConfig,
    evaluate,
    heldout_examples,
    load_file,
    train_model,
)


def heldout_split() -> tuple[list[Example], list[Example]]:
    header = get_model().header["trained_on"]
    return heldout_examples(
        default_data_dir(),
        seed=header["seed"],
        fraction=header["holdout"],
        files=[f["name"] for f in header["files"]],
    )


def calibration(
    labels: Sequence[int], probs: Sequence[float], bins: int = 10
) -> tuple[float, float]:
    """(Brier score, expected calibration error over equal-width bins)."""
    n = len(labels)
    brier = sum((p - y) ** 2 for y, p in zip(labels, probs, strict=True)) / n
    ece = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(probs) if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if idx:
            conf = sum(probs[i] for i in idx) / len(idx)
            acc = sum(labels[i] for i in idx) / len(idx)
            ece += len(idx) / n * abs(conf - acc)
    return brier, ece


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--engines", nargs="+", default=["fenghuo", "snownlp"])
    ap.add_argument("--resplit-seeds", nargs="+", type=int, default=None)
    args = ap.parse_args(argv)
    if args.resplit_seeds:
        return resplit(args.resplit_seeds)
    _, held = heldout_split()
    labels = [y for _, y in held]
    norms = [normalize(t) for t, _ in held]
    print(
        f"held-out Weibo posts: {len(held)} ({labels.count(0)} negative) from {default_data_dir()}"
    )
    print(
        f"{'engine':<10}{'accuracy':>10}{'neg recall':>12}{'neg prec':>10}{'neg F1':>8}"
        f"{'macro F1':>10}{'Brier':>8}{'ECE':>7}{'us/text':>9}"
    )
    for name in args.engines:
        engine = get_sentiment_engine(name)
        engine.score_normalized(norms[0])  # load outside the timing
        t0 = time.perf_counter()
        # In chunks of 1,000, as ingest scores them (the Fenghuo engine is vectorised).
        probs = [
            p for i in range(0, len(norms), 1000) for p in engine.score_many(norms[i : i + 1000])
        ]
        per_text = (time.perf_counter() - t0) / len(norms) * 1e6
        m: Metrics = evaluate(labels, probs)
        brier, ece = calibration(labels, probs)
        print(
            f"{name:<10}{m.accuracy:>10.4f}{m.negative_recall:>12.4f}{m.negative_precision:>10.4f}"
            f"{m.negative_f1:>8.4f}{m.macro_f1:>10.4f}{brier:>8.4f}{ece:>7.4f}"
            f"{per_text:>9.1f}"
        )
        if any(math.isnan(p) for p in probs):
            print(f"warning: {name} produced NaN scores", file=sys.stderr)
    return 0


def resplit(seeds: Sequence[int]) -> int:
    header = get_model().header
    trained = header["trained_on"]
    hp = header["hyperparameters"]
    files = [load_file(default_data_dir() / f["name"]) for f in trained["files"]]
    # Models trained before the NB interpolation have no nb_lambda: plain NB-weighted LR.
    lam = float(hp.get("nb_lambda", 0.0))
    cfg = TrainConfig(
        c_grid=(float(hp["C"]),), alpha_grid=(float(hp["nb_alpha"]),), nb_lambda_grid=(lam,)
    )
    print(
        f"retraining with C={hp['C']} alpha={hp['nb_alpha']} NB weight={lam:g} "
        f"on {len(files)} files"
    )
    print(f"{'seed':<8}{'n':>6}{'accuracy':>10}{'neg recall':>12}{'neg prec':>10}{'macro F1':>10}")
    accs = []
    for seed in seeds:
        result = train_model(files, seed=seed, holdout=float(trained["holdout"]), config=cfg)
        m = result.heldout_metrics
        assert m is not None
        accs.append(m.accuracy)
        print(
            f"{seed:<8}{m.n:>6}{m.accuracy:>10.4f}{m.negative_recall:>12.4f}"
            f"{m.negative_precision:>10.4f}{m.macro_f1:>10.4f}"
        )
    print(f"mean accuracy {sum(accs) / len(accs):.4f} over {len(accs)} seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
