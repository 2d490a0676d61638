"""The vectorised n-gram lookups compute exactly what the string definitions say."""

from __future__ import annotations

import functools
import gzip
import json
import math
import os
import random
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.nlp import analyze_many, analyze_text
from monitoring.nlp import keywords as K
from monitoring.nlp import sentiment as S
from monitoring.nlp.grams import GramTable, code_points, pack, packed_grams
from monitoring.nlp.text import EMOJI_RE, features, normalize

TEXTS = [
    "",
    " ",
    "a",
    "哈",
    "[怒]",
    "[[a]]",
    "[怒][泪]！！！123",
    "客服电话打不通，客服电话一直占线，客服电话形同虚设[怒]",
    "ＥＴ７蔚来ET7车机又黑屏了，客服电话打不通[怒]",
    "iPhone 15 的 iOS 更新后 app 闪退",
    "转发微博//@甲:说得对//@乙: 茶小满奶茶里喝出蟑螂，门店还不给退款！",
    "😀😀好的😡 太棒了哈哈哈",
    "\ud800坏掉的代理字符\udfff也不能让评分出错",
    "𠮷野家的牛肉饭好吃[赞]   ",
    "今天天气很好，去公园散步。" * 20,
    "退款退款退款退款 http://t.cn/abc 退款",
]


def _reference_raw(weights: dict[str, float], bias: float, norm: str) -> float:
    grams = features(norm, 1, 3)
    return bias + sum(weights.get(g, 0.0) for g in grams) / math.sqrt(len(grams) or 1)


def test_sentiment_batch_equals_the_string_definition() -> None:
    with gzip.open(S.DEFAULT_MODEL_PATH, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    weights, bias = data["weights"], data["header"]["bias"]
    rng = random.Random(7)
    pool = [t for t in weights if len(t) == 1 and not t.isspace() and t != "\x01"]
    generated = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 80))) for _ in range(200)]
    norms = [normalize(t) for t in TEXTS + generated]
    model = S.get_model()
    batch = model.raw_scores(norms)
    for norm, fast in zip(norms, batch.tolist(), strict=True):
        assert fast == pytest.approx(_reference_raw(weights, bias, norm), abs=1e-9), norm
    # one at a time gives the same as a batch
    assert [model.raw_score(n) for n in norms[:20]] == pytest.approx(batch[:20].tolist())
    assert model.vocab_size == len(weights)


def test_empty_text_scores_one_half_and_batches_of_any_size() -> None:
    model = S.get_model()
    assert model.score_many([]) == []
    assert model.score_many(["", "好"])[0] == 0.5
    assert analyze_many([]) == []
    assert analyze_text("").polarity == "neutral"


@functools.cache
def _dictionary_frequencies() -> dict[str, int]:
    """jieba's dictionary: every 2-4 character Chinese word -> its frequency."""
    import jieba

    out: dict[str, int] = {}
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as fh:
        for line in fh:
            word, freq, *_tag = line.split()
            if 2 <= len(word) <= 4 and re.fullmatch(r"[\u3400-\u4dbf\u4e00-\u9fff]+", word):
                out[word] = int(freq)
    return out


def _reference_keywords(norm: str, top_k: int) -> list[str]:
    """The keyword definition written plainly (what docs/sentiment.md describes)."""
    idf = K._load_idf()
    if "[" in norm:
        norm = EMOJI_RE.sub(" ", norm)
    freq = _dictionary_frequencies()
    scores: dict[str, float] = {}
    grams = []
    for run in re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff]+", norm):
        for n in (2, 3, 4):
            for i in range(len(run) - n + 1):
                gram = run[i : i + n]
                # not counted where a more frequent dictionary word runs across its edges
                crossing = [
                    freq.get(run[a:b], 0)
                    for a in range(len(run))
                    for b in range(a + 2, min(a + 4, len(run)) + 1)
                    if (a < i < b) or (a < i + n < b)
                ]
                if max(crossing, default=0) <= freq.get(gram, 0):
                    grams.append(gram)
    for word, count in Counter(g for g in grams if g in idf).items():
        scores[word] = scores.get(word, 0.0) + count * idf[word]
    for tok in K._LATIN_RE.findall(norm):
        if tok not in K._LATIN_STOP and not tok.isdigit():
            scores[tok] = scores.get(tok, 0.0) + K._median_idf
    return K._rank(scores, top_k)


def test_keywords_batch_equals_the_plain_definition() -> None:
    K.clear_user_terms()
    idf = K._load_idf()
    rng = random.Random(11)
    words = sorted(idf)
    generated = [
        "，".join(rng.choice(words) for _ in range(rng.randint(1, 12))) + rng.choice(["", "哈"])
        for _ in range(300)
    ]
    norms = [normalize(t) for t in TEXTS + generated]
    batch = K.extract_keywords_many(norms, 5)
    assert batch == [_reference_keywords(n, 5) for n in norms]
    assert batch[:5] == [K.extract_keywords(n, 5, normalized=True) for n in norms[:5]]


def test_gram_table_matches_a_dict() -> None:
    rng = np.random.default_rng(3)
    keys = np.unique(rng.integers(1, 1 << 40, size=5000, dtype=np.uint64))
    values = rng.normal(size=keys.size)
    table = GramTable(keys, values)
    reference = dict(zip(keys.tolist(), values.tolist(), strict=True))
    probes = np.concatenate([keys, rng.integers(1, 1 << 40, size=5000, dtype=np.uint64)])
    got = table.lookup(probes)
    assert got.tolist() == [reference.get(k, 0.0) for k in probes.tolist()]
    assert table.contains(probes).tolist() == [k in reference for k in probes.tolist()]
    assert table.size == keys.size
    with pytest.raises(ValueError, match="reserved"):
        GramTable(np.array([0, 1], dtype=np.uint64), np.zeros(2))
    with pytest.raises(ValueError, match="duplicate"):
        GramTable(np.array([5, 5], dtype=np.uint64), np.zeros(2))


def test_packed_grams_are_the_grams_of_each_text() -> None:
    texts = ["ab c", "", "汉字𠮷", "x"]
    codes, starts = code_points(texts)
    for n, positions, keys in packed_grams(codes, (3, 1, 2), bits=21):
        docs = np.searchsorted(starts, positions, side="right") - 1
        got = sorted(
            (int(d), int(p - starts[d]), int(k))
            for d, p, k in zip(docs, positions, keys, strict=True)
        )
        expected = sorted(
            (d, i, pack(t[i : i + n], 21))
            for d, t in enumerate(texts)
            for i in range(len(t) - n + 1)
        )
        assert got == expected, n
    assert pack("abcd", 21) == 0  # does not fit
    assert pack("a\x00", 21) == 0  # code point 0 is reserved


_MODEL_WEIGHTS: dict[str, float] = {}


def _weights() -> dict[str, float]:
    if not _MODEL_WEIGHTS:
        with gzip.open(S.DEFAULT_MODEL_PATH, "rt", encoding="utf-8") as fh:
            _MODEL_WEIGHTS.update(json.load(fh)["weights"])
    return _MODEL_WEIGHTS


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=120), min_size=1, max_size=8))
def test_any_text_batch_scores_like_the_string_definition(texts: list[str]) -> None:
    model = S.get_model()
    norms = [normalize(t) for t in texts]
    raw = model.raw_scores(norms)
    for norm, fast in zip(norms, raw.tolist(), strict=True):
        assert fast == pytest.approx(_reference_raw(_weights(), model.bias, norm), abs=1e-9)
    results = analyze_many(texts)
    assert len(results) == len(texts)
    assert all(0.0 <= a.sentiment <= 1.0 for a in results)
    assert [K.extract_keywords(n, 5, normalized=True) for n in norms] == [
        a.keywords if n else [] for a, n in zip(results, norms, strict=True)
    ]
