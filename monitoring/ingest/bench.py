"""Measure the per-record cost of ingest parsing, and SimHash's near-duplicate behaviour.

    .venv/bin/python -m monitoring.ingest.bench            # 10,000-record JSONL timing
    .venv/bin/python -m monitoring.ingest.bench --study    # also the SimHash distance table

Not imported by the application; it generates its own data (fixed seed) so runs compare.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import datetime, timedelta

from .files import parse_payload
from .fingerprint import NEAR_DUPLICATE_DISTANCE, fingerprint, hamming, simhash64
from .timeparse import SHANGHAI

_PHRASES = (
    "云朵咖啡",
    "门店饮品里喝出异物",
    "客服电话一直打不通",
    "会员积分突然清零",
    "官方回应太慢了",
    "杯盖又漏了烫到手",
    "退款流程太复杂",
    "小程序登录不上",
    "店员态度很差",
    "已经向市场监管部门投诉",
    "希望尽快给个说法",
    "大家有没有遇到同样的情况",
    "第三次了真的服了",
    "新品味道还不错",
    "排队排了一个小时",
    "孩子也喝了两口",
    "保留了小票和实物",
    "等官方的调查结果",
    "这家店以后不会再来了",
    "朋友说总部在换供应商",
)
_START = datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI)


def _text(rng: random.Random) -> str:
    target = rng.randint(60, 140)
    parts: list[str] = []
    while sum(map(len, parts)) < target:
        parts.append(rng.choice(_PHRASES))
    text = "，".join(parts) + rng.choice(
        ["。", "！！", "？", " #云朵咖啡异物#", " http://t.cn/A6x"]
    )
    return text if rng.random() > 0.2 else f"<p>{text}<br/><img src='https://x/1.jpg'></p>"


def _record(n: int, rng: random.Random) -> dict[str, object]:
    when = _START + timedelta(seconds=n * 3)
    counts = {"likes": rng.randint(0, 5000), "reposts": rng.randint(0, 500)}
    kind = n % 10
    if kind < 4:
        return {
            "external_id": str(5231000000000000 + n),
            "platform": "weibo",
            "text": _text(rng),
            "url": f"https://weibo.com/{6000000000 + n % 97}/x{n}",
            "posted_at": when.isoformat(),
            "author": {"id": str(6000000000 + n % 97), "name": f"用户{n % 97}", "followers": n},
            "metrics": {**counts, "comments": rng.randint(0, 300), "views": None},
            "location": "广东",
        }
    if kind < 7:
        record: dict[str, object] = {
            "id": 5232000000000000 + n,
            "bid": "Qd8fS0001",
            "user_id": str(7000000000 + n % 53),
            "screen_name": f"博主{n % 53}",
            "text": _text(rng),
            "full_created_at": when.strftime("%Y-%m-%d %H:%M:%S"),
            "attitudes_count": counts["likes"],
            "comments_count": rng.randint(0, 300),
            "reposts_count": f"{counts['reposts'] / 100:.1f}万",
        }
        if kind == 6:
            record["retweet"] = {
                "id": 5231999000000000 + n % 11,
                "user_id": "1900000001",
                "text": _text(random.Random(n % 11)),
                "full_created_at": _START.strftime("%Y-%m-%d %H:%M:%S"),
            }
        return record
    return {
        "aweme_id": str(7441234567890000000 + n),
        "desc": _text(rng),
        "create_time": int(when.timestamp()),
        "user_id": str(88880000 + n % 31),
        "nickname": f"抖音用户{n % 31}",
        "liked_count": f"{counts['likes'] / 1000:.1f}w",
        "comment_count": str(rng.randint(0, 300)),
        "share_count": str(counts["reposts"]),
        "ip_location": "浙江",
    }


def make_jsonl(count: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    lines = (json.dumps(_record(n, rng), ensure_ascii=False) for n in range(count))
    return "\n".join(lines).encode("utf-8")


def time_ingest(data: bytes, *, repeat: int) -> dict[str, float]:
    """Best-of-repeat CPU time of this process (not wall time: a shared machine's other
    processes would otherwise inflate the figure)."""
    now = _START + timedelta(days=1)
    parse_payload(data, filename="bench.jsonl", now=now)  # warm-up (imports, regex caches)
    parse_times, hash_times = [], []
    for _ in range(repeat):
        started = time.process_time()
        result = parse_payload(data, filename="bench.jsonl", now=now)
        parsed = time.process_time()
        for item in result.items:
            fingerprint(item.text)
        hash_times.append(time.process_time() - parsed)
        parse_times.append(parsed - started)
    records = len(data.splitlines())
    assert not result.rejected, result.rejected[:3]
    best_parse, best_hash = min(parse_times), min(hash_times)
    return {
        "records": records,
        "items": len(result.items),
        "parse_us_per_record": best_parse / records * 1e6,
        "fingerprint_us_per_item": best_hash / len(result.items) * 1e6,
        "total_us_per_record": (best_parse + best_hash) / records * 1e6,
    }


def simhash_study(samples: int = 1000, seed: int = 1) -> list[str]:
    """Hamming distances for one-character edits vs. unrelated texts, by length."""
    words = _study_words()
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(0x4E00, 0x9FA5)]

    def text(length: int) -> str:
        out = ""
        while len(out) < length:
            out += rng.choice(words)
        return out[:length]

    def on_topic(length: int) -> str:
        # Posts about one incident share its name and hashtag.
        return "云朵咖啡门店异物" + text(length - 16) + "#云朵咖啡异物#"

    rows = [
        "| chars | edit median | edit p95 | edits <= threshold "
        "| unrelated min | same-topic min | same-topic <= threshold |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for length in (20, 40, 60, 100, 140, 300):
        edits, unrelated, topical = [], [], []
        for _ in range(samples):
            a = text(length)
            i = rng.randrange(length)
            edited = a[:i] + rng.choice(alphabet) + a[i + 1 :]
            edits.append(hamming(simhash64(a), simhash64(edited)))
            unrelated.append(hamming(simhash64(a), simhash64(text(length))))
            topical.append(hamming(simhash64(on_topic(length)), simhash64(on_topic(length))))
        edits.sort()
        share = sum(d <= NEAR_DUPLICATE_DISTANCE for d in edits) / samples
        false_share = sum(d <= NEAR_DUPLICATE_DISTANCE for d in topical) / samples
        rows.append(
            f"| {length} | {statistics.median(edits):g} | {edits[int(samples * 0.95) - 1]} "
            f"| {share:.0%} | {min(unrelated)} | {min(topical)} | {false_share:.1%} |"
        )
    return rows


def _study_words() -> list[str]:
    try:
        import jieba  # a project dependency; only its dictionary is used here
    except ImportError:
        return list(_PHRASES)
    from pathlib import Path

    dictionary = Path(jieba.__file__).with_name("dict.txt")
    words = []
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        word, freq, *_ = line.split()
        if int(freq) > 500 and len(word) <= 4:
            words.append(word)
    return words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--study", action="store_true", help="print the SimHash distance table")
    args = parser.parse_args()
    data = make_jsonl(args.records)
    figures = time_ingest(data, repeat=args.repeat)
    size = len(data) / 1e6
    print(f"{figures['records']} JSONL records ({size:.1f} MB), {figures['items']} items")
    print(f"parse + normalize: {figures['parse_us_per_record']:.1f} µs/record")
    print(f"simhash + exact fingerprint: {figures['fingerprint_us_per_item']:.1f} µs/item")
    print(f"total: {figures['total_us_per_record']:.1f} µs/record (CPU, best of {args.repeat})")
    if args.study:
        print("\n".join(simhash_study()))


if __name__ == "__main__":
    main()
