"""Throughput of the watch-topic matcher and the sensitive-term scanner.

    .venv/bin/python bench/bench_matcher.py [--topics 200] [--posts 20000] [--source auto]

Topics are realistic brand-monitoring queries built from made-up brand and product names and
the default sensitive-term library. Posts are ~80-character Chinese texts: by default real
Weibo sentences from ../shared/data/sentiment/weibo2018_train.txt (read at run time, never
copied into the repository) with brand names and crisis words spliced into a share of them;
``--source synthetic`` builds them from a fixed vocabulary instead. Needs no Django.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitoring.rules import (  # noqa: E402
    PLATFORMS,
    SensitiveTermMatcher,
    TopicMatcher,
    TopicSpec,
    default_terms,
)

WEIBO_FILE = ROOT.parent / "shared" / "data" / "sentiment" / "weibo2018_train.txt"

BRANDS = [
    ("烽火", ["烽火手机", "烽火汽车", "FH Phone"]),
    ("星河乳业", ["星河牛奶", "星河酸奶"]),
    ("云栖咖啡", ["云栖", "云栖拿铁"]),
    ("蓝鲸家电", ["蓝鲸空调", "蓝鲸热水器"]),
    ("青禾食品", ["青禾薯片", "青禾辣条"]),
    ("极光出行", ["极光打车", "极光司机"]),
    ("白鹭美妆", ["白鹭面霜", "白鹭口红"]),
    ("山海银行", ["山海信用卡", "山海APP"]),
    ("木棉快递", ["木棉物流", "木棉快递员"]),
    ("飞鱼外卖", ["飞鱼骑手", "飞鱼商家"]),
]
FILLER = [
    "今天天气不错",
    "我们一起去吃饭了",
    "朋友说这个东西还可以",
    "价格也合适",
    "但是排队的人太多了",
    "下次再来看看吧",
    "希望越来越好",
    "生活就是这样",
    "平平淡淡才是真",
    "开心最重要",
    "周末愉快",
    "新店开业了",
    "快递到了",
    "客服回复很快",
    "包装有点简陋",
    "味道一般般",
    "孩子很喜欢",
    "地铁上人好多",
    "加班到很晚",
    "终于放假了",
    "[哈哈]",
    "[泪]",
    "转发微博",
]


def make_topics(count: int, rng: random.Random) -> list[TopicSpec]:
    crisis = [row.term for row in default_terms()]
    by_category: dict[str, list[str]] = {}
    for row in default_terms():
        by_category.setdefault(row.category, []).append(row.term)
    categories = sorted(by_category)
    topics = []
    for index in range(count):
        brand, aliases = BRANDS[index % len(BRANDS)]
        names = " OR ".join(f'"{name}"' for name in [brand, *aliases])
        shape = index % 5
        if shape == 0:  # brand + one crisis category
            words = " OR ".join(by_category[categories[index % len(categories)]][:12])
            query = f"({names}) AND ({words})"
        elif shape == 1:  # brand near a crisis word
            query = f'"{brand}" NEAR/20 {rng.choice(crisis)}'
        elif shape == 2:  # brand + several mixed crisis words, minus noise
            words = " OR ".join(rng.sample(crisis, 8))
            query = f"({names}) ({words}) NOT 广告 NOT 抽奖"
        elif shape == 3:  # a product line on chosen platforms
            query = f'"{aliases[0]}" (投诉 OR 维权 OR 曝光 OR 差评)'
        else:  # a location-scoped watch
            query = f"({names}) location:广东 NOT 转发抽奖"
        platforms = frozenset(rng.sample(PLATFORMS[:5], 2)) if index % 7 == 0 else None
        topics.append(TopicSpec(index, query, exclusions="演习 OR 模拟", platforms=platforms))
    return topics


def weibo_sentences() -> list[str]:
    sentences = []
    with WEIBO_FILE.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            parts = line.rstrip("\n").split(",", 2)
            if len(parts) == 3 and len(parts[2]) >= 20:
                sentences.append(parts[2])
    return sentences


def make_posts(count: int, rng: random.Random, source: str) -> tuple[list[str], str]:
    crisis = [row.term for row in default_terms()]
    names = [name for brand, aliases in BRANDS for name in (brand, *aliases)]
    if source == "auto":
        source = "weibo" if WEIBO_FILE.exists() else "synthetic"
    base = weibo_sentences() if source == "weibo" else []
    posts = []
    for _ in range(count):
        length = rng.randrange(70, 91)
        # Weibo sentences are often short: join random ones, then cut to ~80 characters.
        pieces = base or FILLER
        text = ""
        while len(text) < length:
            text += rng.choice(pieces) + ("" if base else "，")
        text = text[:length]
        # About a third mention a brand, a quarter a crisis word: a busy crisis day.
        if rng.random() < 0.35:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(names) + text[at:]
        if rng.random() < 0.25:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(crisis) + text[at:]
        posts.append(text)
    return posts, source


def best_rate(run, items: int, repeats: int) -> tuple[float, float, float]:
    """Best and median wall-clock rate, and the best rate per CPU second.

    The CPU figure is what to compare across runs on a shared machine: other processes
    stretch the wall clock, not this process's CPU time.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(items / (time.perf_counter() - started))
        cpu.append(items / max(time.process_time() - started_cpu, 1e-9))
    return max(wall), statistics.median(wall), max(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--source", choices=["auto", "weibo", "synthetic"], default="auto")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    topics = make_topics(args.topics, rng)
    posts, source = make_posts(args.posts, rng, args.source)
    platforms = [rng.choice(PLATFORMS) for _ in posts]
    locations = [rng.choice(["广东", "北京", "上海", None]) for _ in posts]
    meta = list(zip(posts, platforms, locations, strict=True))

    started = time.perf_counter()
    matcher = TopicMatcher.build(topics)
    build_ms = (time.perf_counter() - started) * 1000
    scanner = SensitiveTermMatcher.default()

    matched = sum(len(matcher.match(text, platform=p, location=loc)) for text, p, loc in meta)

    def run_match() -> None:
        match = matcher.match
        for text, platform, location in meta:
            match(text, platform=platform, location=location)

    def run_scan() -> None:
        scan = scanner.scan
        for text in posts:
            scan(text)

    match_best, match_median, match_cpu = best_rate(run_match, len(posts), args.repeats)
    scan_best, scan_median, scan_cpu = best_rate(run_scan, len(posts), args.repeats)
    mean_len = statistics.mean(len(text) for text in posts)
    print(f"python {sys.version.split()[0]}, posts from {source}, load {os.getloadavg()[0]:.1f}")
    print(
        f"{len(topics)} topics, {len(matcher.terms)} distinct terms, build {build_ms:.1f} ms; "
        f"{len(posts)} posts, mean {mean_len:.0f} chars; {matched} topic matches"
    )
    print(
        f"match():  best {match_best:,.0f} posts/s, median {match_median:,.0f} posts/s "
        f"(wall clock); {match_cpu:,.0f} posts per CPU second"
    )
    print(
        f"sensitive scan ({len(scanner)} terms): best {scan_best:,.0f} posts/s, "
        f"median {scan_median:,.0f} posts/s; {scan_cpu:,.0f} posts per CPU second"
    )


if __name__ == "__main__":
    main()
