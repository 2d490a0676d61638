"""Throughput of the NLP layer per text: sentiment + keywords + crisis type.

Usage:
    .venv/bin/python bench/bench_nlp.py [--n 5000] [--repeat 5] [--engine fenghuo]
        [--data PATH_TO_weibo2018_train.txt] [--batch 1000]

Texts are the first ``--n`` posts of weibo2018_train.txt from the shared data when it is
present, else a built-in set of synthetic posts. Reports the
best of ``--repeat`` timed passes (the least disturbed by other processes on the machine) and
the median, per stage and for ``analyze_many`` end to end, in microseconds per text. Texts go
through sentiment, keywords and ``analyze_many`` in chunks of ``--batch`` (1,000, what ingest
uses): those stages are vectorised over a chunk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitoring import nlp  # noqa: E402
from monitoring.nlp.crisis_type import classify_crisis_type  # noqa: E402
from monitoring.nlp.keywords import extract_keywords_many  # noqa: E402
from monitoring.nlp.sentiment import get_sentiment_engine  # noqa: E402
from monitoring.nlp.text import normalize  # noqa: E402

SYNTHETIC = [
    "XX外卖APP又崩了，中午点不了饭，打工人的天塌了[怒][怒] http://t.cn/A6abcd",
    "在某宝买的冰箱三天就坏了，客服一直踢皮球，已经打了12315投诉//@消费者小李:同款问题",
    "今天天气真好，和朋友去公园野餐，拍了好多照片[太开心]，晚上去吃了新开的火锅店",
    "【辟谣】近日网络流传“某超市全部门店明天关闭”的消息不实，请大家不信谣不传谣。",
    "@品牌官微 你们的新广告是不是有点低俗了？评论区已经吵翻了，建议尽快撤下",
]


def load_texts(data: str | None, n: int) -> tuple[list[str], str]:
    candidates = [data] if data else []
    env = os.environ.get("FENGHUO_SENTIMENT_DATA")
    if env:
        candidates.append(str(Path(env) / "weibo2018_train.txt"))
    candidates.append(str(ROOT.parent / "shared" / "data" / "sentiment" / "weibo2018_train.txt"))
    for path in candidates:
        if path and Path(path).is_file():
            texts = []
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    parts = line.rstrip("\n").split(",", 2)
                    if len(parts) == 3:
                        texts.append(parts[2])
            return texts[:n], path
    return (SYNTHETIC * (n // len(SYNTHETIC) + 1))[:n], "synthetic"


def timed(fn: Callable[[], object], repeat: int, n: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return min(runs), statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--engine", default=None)
    ap.add_argument("--data", default=None)
    ap.add_argument("--batch", type=int, default=1000, help="texts per vectorised call")
    ap.add_argument(
        "--compare-jieba",
        action="store_true",
        help="also time jieba.analyse.extract_tags(topK=5) on the same texts",
    )
    args = ap.parse_args()

    texts, source = load_texts(args.data, args.n)
    n = len(texts)
    t0 = time.perf_counter()
    nlp.warm_up(args.engine)
    warm = time.perf_counter() - t0
    engine = get_sentiment_engine(args.engine)
    norms = [normalize(t) for t in texts]
    scores = engine.score_many(norms)
    mean_len = statistics.mean(len(t) for t in texts)
    size = max(args.batch, 1)
    chunks = [slice(i, i + size) for i in range(0, n, size)]

    stages: list[tuple[str, Callable[[], object]]] = [
        ("normalize", lambda: [normalize(t) for t in texts]),
        ("sentiment", lambda: [engine.score_many(norms[c]) for c in chunks]),
        ("keywords", lambda: [extract_keywords_many(norms[c], 5) for c in chunks]),
        (
            "crisis_type",
            lambda: [
                classify_crisis_type(x, sentiment=s, normalized=True)
                for x, s in zip(norms, scores, strict=True)
            ],
        ),
        (
            "analyze_many (end to end)",
            lambda: [nlp.analyze_many(texts[c], engine=args.engine) for c in chunks],
        ),
    ]
    if args.compare_jieba:
        import jieba.analyse

        nlp.tokenize("预热")  # jieba's dictionary loads here, outside the timing
        stages.insert(
            3,
            ("  (jieba extract_tags)", lambda: [jieba.analyse.extract_tags(x, 5) for x in norms]),
        )
    print(
        f"engine={engine.name} texts={n} from {source}; mean length {mean_len:.1f} chars; "
        f"chunks of {size}"
    )
    print(
        f"python {sys.version.split()[0]}; load (model + dictionaries) {warm:.2f} s; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus"
    )
    print(f"{'stage':<28}{'best us/text':>14}{'median us/text':>16}")
    best_total = 0.0
    for name, fn in stages:
        best, med = timed(fn, args.repeat, n)
        print(f"{name:<28}{best:>14.1f}{med:>16.1f}")
        best_total = best  # the last stage is the end-to-end one
    print(f"=> {1e6 / best_total:,.0f} texts/s in one process (best pass)")


if __name__ == "__main__":
    main()
