"""//@name: repost chains."""

from __future__ import annotations

import pytest

from monitoring.ingest import parse_repost_chain


def test_plain_text_has_no_chain() -> None:
    chain = parse_repost_chain("  只是一条普通微博，网址 http://t.cn/A6abc 里有 // 也没关系  ")
    assert chain.own_text == "只是一条普通微博，网址 http://t.cn/A6abc 里有 // 也没关系"
    assert chain.chain == []
    assert chain.parent_name is None and chain.root_name is None


def test_nested_chain_parent_first_root_last() -> None:
    text = "太离谱了//@咖啡控小王:已经第三次了//@杭州吃喝小分队:刚在门店喝出塑料片"
    chain = parse_repost_chain(text)
    assert chain.own_text == "太离谱了"
    assert chain.chain == [("咖啡控小王", "已经第三次了"), ("杭州吃喝小分队", "刚在门店喝出塑料片")]
    assert chain.parent_name == "咖啡控小王"
    assert chain.root_name == "杭州吃喝小分队"
    assert chain.names == ["咖啡控小王", "杭州吃喝小分队"]


@pytest.mark.parametrize(
    "text",
    [
        "看法//@用户A:原文",
        "看法// @用户A :原文",
        "看法//@用户A：原文",
        "看法//@用户A: 原文",
        "看法 //@用户A ： 原文",
        "看法／／@用户A:原文",
    ],
)
def test_separator_variants(text: str) -> None:
    chain = parse_repost_chain(text)
    assert chain.own_text == "看法"
    assert chain.chain == [("用户A", "原文")]


@pytest.mark.parametrize("name", ["Yun_Coffee-2026", "云朵咖啡官方", "abc123", "小王_xiao-wang"])
def test_name_characters(name: str) -> None:
    assert parse_repost_chain(f"//@{name}:x").parent_name == name


def test_repost_without_own_words_and_many_levels() -> None:
    levels = [f"用户{n}" for n in range(30)]
    text = "".join(f"//@{name}:第{n}层" for n, name in enumerate(levels))
    chain = parse_repost_chain(text)
    assert chain.own_text == ""
    assert chain.names == levels
    assert chain.chain[-1] == ("用户29", "第29层")


def test_mention_without_chain_marker_is_not_a_chain() -> None:
    chain = parse_repost_chain("@云朵咖啡官方: 请回应一下")
    assert chain.chain == []


def test_empty_segments_are_kept() -> None:
    chain = parse_repost_chain("转发微博//@A://@B:原文")
    assert chain.own_text == "转发微博"
    assert chain.chain == [("A", ""), ("B", "原文")]
