"""SimHash near-duplicates and exact fingerprints."""

from __future__ import annotations

import itertools
import statistics

import pytest

from monitoring.ingest import (
    NEAR_DUPLICATE_DISTANCE,
    fingerprint,
    from_signed64,
    hamming,
    is_near_duplicate,
    simhash64,
    text_fingerprint,
    to_signed64,
)
from monitoring.ingest.fingerprint import normalize_for_fingerprint

STATEMENT = (
    "【情况说明】关于网传云朵咖啡杭州某门店饮品中出现异物一事，我们已第一时间成立专项小组核查，"
    "并与当事顾客取得联系。核查结果将于今日18点前公布，感谢大家的监督。"
)
COMPLAINT = (
    "刚在云朵咖啡门店买的拿铁，喝到一半发现杯底有一块黑色塑料片！！店员说是正常的？？"
    "这也太离谱了吧，孩子也喝了两口，现在只想知道这东西到底是什么，门店经理到现在都没露面。"
)
# Different posts about the same incident: they share names and keywords but are not copies.
SAME_TOPIC = [
    STATEMENT,
    COMPLAINT,
    "云朵咖啡App从早上九点开始就一直登录不上，积分兑换的券今天到期，客服电话也打不通，真的很无语。",
    "网传云朵咖啡杭州门店饮品出现异物，有顾客称店员态度恶劣，目前官方尚未给出核查结果，大家怎么看？",
    "#云朵咖啡异物# 建议涉事顾客保留小票与实物，向市场监管部门投诉，必要时申请第三方检测。",
    "云朵咖啡的杯盖是不是换供应商了？最近两次都漏，烫到手了，门店说杯盖没问题是我拿的姿势不对。",
    "排队两小时就为了退一杯咖啡，云朵咖啡的退款流程也太复杂了，小程序里根本找不到入口。",
    "作为前咖啡店员说两句：杯盖质量问题去年就有人反映过，总部一直说在换供应商，一直没换。",
]


def test_trivial_differences_give_identical_fingerprints() -> None:
    variants = [
        STATEMENT + "🙏🙏",
        STATEMENT + "😡",
        STATEMENT.replace("，", ",").replace("。", "!") + "  \n",
        STATEMENT + " http://t.cn/A6xYz12",
        STATEMENT + " @云朵咖啡官方",
        "//@转发的人:" + STATEMENT,
        "转发微博//@转发的人:" + STATEMENT,
        STATEMENT.replace("18", "１８"),  # full-width digits (NFKC)
    ]
    for variant in variants:
        assert hamming(simhash64(STATEMENT), simhash64(variant)) == 0, variant
        assert text_fingerprint(variant) == text_fingerprint(STATEMENT), variant


def test_repost_chain_is_excluded_when_the_poster_wrote_something() -> None:
    a = "官方回应来了，大家怎么看？//@甲:第一种转发链"
    b = "官方回应来了，大家怎么看？//@乙:完全不同的另一条转发链，内容也很长很长"
    assert simhash64(a) == simhash64(b)
    assert normalize_for_fingerprint(a) == "官方回应来了大家怎么看"


@pytest.mark.parametrize(
    ("old", "new"),
    [("感谢", "谢谢"), ("核查结果", "核实结果"), ("18点", "19点"), ("门店", "分店")],
)
def test_one_character_changed_is_a_near_duplicate(old: str, new: str) -> None:
    changed = STATEMENT.replace(old, new, 1)
    assert changed != STATEMENT
    assert text_fingerprint(changed) != text_fingerprint(STATEMENT)
    assert is_near_duplicate(simhash64(STATEMENT), simhash64(changed))


@pytest.mark.parametrize("text", [STATEMENT, COMPLAINT])
def test_single_character_edits_at_every_position_mostly_stay_within_threshold(text: str) -> None:
    # SimHash over ~80-100 characters moves a few bits per edit; measured and documented
    # in docs/ingest-formats.md. This guards the distribution, not single lucky cases.
    base = simhash64(text)
    distances = [
        hamming(base, simhash64(text[:i] + "额" + text[i + 1 :]))
        for i, char in enumerate(text)
        if char.isalnum() and char != "额"
    ]
    assert statistics.median(distances) <= 4
    assert sum(d <= NEAR_DUPLICATE_DISTANCE for d in distances) / len(distances) >= 0.85
    assert max(distances) < 16


def test_unrelated_posts_on_the_same_topic_are_far_apart() -> None:
    for a, b in itertools.combinations(SAME_TOPIC, 2):
        distance = hamming(simhash64(a), simhash64(b))
        assert distance > 2 * NEAR_DUPLICATE_DISTANCE, (a, b, distance)


def test_simhash_is_stable_across_processes_and_versions() -> None:
    # Stored fingerprints must stay comparable: changing the hashing needs a migration.
    assert simhash64("云朵咖啡门店饮品里喝出塑料片") == 0x5D8BD5FB8E19BB63
    assert text_fingerprint("云朵咖啡门店饮品里喝出塑料片") == "cf21383d6119a839"


def test_empty_and_short_texts() -> None:
    assert simhash64("") == 0
    assert simhash64("!!! 🙏") == 0
    assert simhash64("a") != 0
    assert simhash64("ab") != simhash64("ba")


def test_signed_64_bit_round_trip_for_postgres_bigint() -> None:
    for value in (0, 1, 2**63 - 1, 2**63, 2**64 - 1, simhash64(STATEMENT)):
        signed = to_signed64(value)
        assert -(2**63) <= signed < 2**63
        assert from_signed64(signed) == value
    assert to_signed64(2**64 - 1) == -1
    assert hamming(to_signed64(2**64 - 1), 0) == 64
    a, b = simhash64(STATEMENT), simhash64(COMPLAINT)
    assert hamming(to_signed64(a), b) == hamming(a, b)


def test_fingerprint_gives_both_in_one_pass() -> None:
    result = fingerprint(STATEMENT)
    assert result.simhash == simhash64(STATEMENT)
    assert result.exact == text_fingerprint(STATEMENT)
    assert result.simhash_signed == to_signed64(result.simhash)


def test_huge_text_does_not_overflow_the_counters() -> None:
    assert simhash64("云朵" * 200_000) == simhash64("云朵" * 100_000)


def test_batch_fingerprints_equal_one_at_a_time() -> None:
    import random

    from monitoring.ingest import fingerprint_many, simhash_many
    from monitoring.ingest.fingerprint import simhash_normalized

    rng = random.Random(5)
    texts = ["", "a", "ab", "汉", "😀", "😀x", "转发微博//@甲:原文在这里", "x" * 40_000]
    texts += [
        "".join(
            chr(rng.choice([rng.randint(32, 0x9FFF), rng.randint(0x10000, 0x2FFFF)]))
            for _ in range(rng.randint(0, 90))
        )
        for _ in range(300)
    ]
    normalized = [normalize_for_fingerprint(t) for t in texts]
    assert simhash_many(normalized) == [simhash_normalized(n) for n in normalized]
    assert fingerprint_many(texts) == [fingerprint(t) for t in texts]
    assert simhash_many([]) == []
