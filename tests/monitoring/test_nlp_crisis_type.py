"""Crisis-type classifier: accuracy on hand-labelled Weibo-style posts, and its rules."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from monitoring.nlp import analyze_text
from monitoring.nlp.crisis_type import CRISIS_FAMILIES, CRISIS_TYPES, CUES, classify_crisis_type
from monitoring.nlp.sentiment import get_model

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "crisis_type_examples.jsonl"
ACCURACY_TARGET = 0.85


def _examples() -> list[dict[str, str | None]]:
    with open(EXAMPLES, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_examples_are_many_valid_and_roughly_balanced() -> None:
    rows = _examples()
    assert len(rows) >= 120
    counts = Counter(r["crisis_type"] for r in rows)
    assert set(counts) == {*CRISIS_TYPES, None}
    assert min(counts.values()) >= 10, counts
    assert len({r["text"] for r in rows}) == len(rows), "duplicate example texts"


def test_nine_codes_in_three_families() -> None:
    assert len(CRISIS_TYPES) == 9 == len(set(CRISIS_TYPES))
    assert set(CRISIS_FAMILIES) == {"misinformation", "interaction_failure", "operational_error"}
    assert {kind for kind, _ in CUES.values()} == set(CRISIS_TYPES)


@pytest.mark.parametrize("with_sentiment", [True, False])
def test_accuracy_on_labelled_examples(with_sentiment: bool) -> None:
    model = get_model()
    rows = _examples()
    wrong = []
    for row in rows:
        text = str(row["text"])
        sentiment = model.score(text) if with_sentiment else None
        got = classify_crisis_type(text, sentiment=sentiment)
        if got != row["crisis_type"]:
            wrong.append((row["crisis_type"], got, text))
    accuracy = 1 - len(wrong) / len(rows)
    assert accuracy >= ACCURACY_TARGET, wrong


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("某品牌APP又崩了，登不上去", "technical_failure"),
        ("这个辟谣来得太及时了，谣言止于智者", "false_information"),
        ("被封号了，申诉三次都没用", "account_banned"),
        ("已经向12315投诉，坚决维权", "complaint_outbreak"),
        ("广告涉嫌辱华，必须道歉", "improper_advertising"),
        ("开业现场发生踩踏，好几个人受伤", "chaotic_event"),
        ("财报里的数据有误，增长率算错了", "wrong_data"),
        ("宣传续航800公里，实际虚标一半，虚假宣传", "exaggerated_claims"),
        ("什么垃圾东西，差评", "negative_comment_surge"),
        ("今天的晚霞好美", None),
        ("", None),
    ],
)
def test_each_code(text: str, expected: str | None) -> None:
    assert classify_crisis_type(text, sentiment=0.1 if expected else 0.9) == expected


def test_specific_type_beats_comment_surge() -> None:
    text = "垃圾APP又闪退了，骂死你们"
    assert classify_crisis_type(text, sentiment=0.05) == "technical_failure"


def test_surge_fallback_needs_a_negative_post() -> None:
    text = "看到一堆人吐槽这家店，我去吃了觉得还挺好吃的，无语这些差评"
    assert classify_crisis_type(text, sentiment=0.1) == "negative_comment_surge"
    assert classify_crisis_type(text, sentiment=0.9) is None


def test_weak_cues_alone_are_not_a_crisis() -> None:
    # An ordinary ad, queue or update is not an incident.
    assert classify_crisis_type("新广告拍得真好看", sentiment=0.9) is None
    assert classify_crisis_type("周末排队买奶茶", sentiment=0.6) is None
    assert classify_crisis_type("app更新了新功能", sentiment=0.7) is None


def test_analyze_text_fills_crisis_type() -> None:
    a = analyze_text("网盘APP宕机一整天，文件都打不开[怒]")
    assert a.crisis_type == "technical_failure"
    assert a.polarity == "negative"
