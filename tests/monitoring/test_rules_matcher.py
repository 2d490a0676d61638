"""The topic matcher: semantics, NEAR distances, exclusions, scope, explain, and equivalence with
a naive reference evaluator."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.rules import (
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Term,
    TermHit,
    TopicMatcher,
    TopicSpec,
    explain,
    fold,
    matches,
    normalize_platform,
)

# --- a deliberately naive reference: str.find over the folded text, no automaton --------------


def _occurrences(text: str, term: str) -> list[int]:
    return [i for i in range(len(text) - len(term) + 1) if text.startswith(term, i)]


def reference(node: Node, text: str, platform=None, author=None, location=None) -> bool:
    folded = fold(text)
    if isinstance(node, Term):
        return node.text in folded
    if isinstance(node, Near):
        a, b = node.left.text, node.right.text
        for i in _occurrences(folded, a):
            for j in _occurrences(folded, b):
                if a == b and i == j:
                    continue
                if max(j - (i + len(a)), i - (j + len(b))) <= node.distance:
                    return True
        return False
    if isinstance(node, Field):
        if node.name == "platform":
            return platform is not None and normalize_platform(platform) == node.value
        value = author if node.name == "author" else location
        return value is not None and node.value in fold(value)
    if isinstance(node, Not):
        return not reference(node.item, text, platform, author, location)
    if isinstance(node, And):
        return all(reference(item, text, platform, author, location) for item in node.items)
    assert isinstance(node, Or)
    return any(reference(item, text, platform, author, location) for item in node.items)


def match_one(query: str, text: str, **meta) -> bool:
    return bool(TopicMatcher.build([TopicSpec(1, query)]).match(text, **meta))


# --- semantics --------------------------------------------------------------------------------


def test_bare_terms_are_substrings_without_word_boundaries():
    assert match_one("召回", "烽火宣布紧急召回一批手机")
    assert match_one("烽火 召回", "烽火宣布紧急召回")
    assert not match_one("烽火 召回", "烽火宣布降价")
    assert match_one("烽火 OR 召回", "宣布召回")
    assert match_one("烽火 NOT 演习", "烽火手机爆炸")
    assert not match_one("烽火 NOT 演习", "烽火消防演习")


def test_matching_folds_width_case_and_invisible_characters():
    assert match_one("iphone", "新款ＩＰＨＯＮＥ发布")
    assert match_one("ＩＰｈｏｎｅ", "iPhone")
    assert match_one("诈骗", "这是诈\u200b骗")
    assert match_one('"烽火 手机"', "烽火　手机")  # an ideographic space folds to a space


def test_phrases_with_spaces_match_literally():
    assert match_one('"new phone"', "the NEW PHONE is here")
    assert not match_one('"new phone"', "new  phone")
    assert not match_one('"new phone"', "phone new")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("召回烽火", True),  # touching: gap 0
        ("烽火召回", True),  # the other order
        ("烽火12345召回", True),  # gap exactly 5
        ("召回12345烽火", True),
        ("烽火123456召回", False),  # gap 6
        ("召回123456烽火", False),
        ("烽火123456召回 烽火1召回", True),  # a later pair is close enough
    ],
)
def test_near_counts_the_gap_between_occurrences_in_either_order(text, expected):
    assert match_one("烽火 NEAR/5 召回", text) is expected


def test_near_overlapping_and_repeated_terms():
    assert match_one('"烽火手机" NEAR/1 手机', "烽火手机")  # overlapping occurrences are near
    assert not match_one("召回 NEAR/3 召回", "召回一次")  # one occurrence is not near itself
    assert match_one("召回 NEAR/3 召回", "召回又召回")
    assert not match_one("召回 NEAR/3 召回", "召回1234召回")


def test_near_counts_characters_after_folding_invisible_characters():
    assert match_one("a NEAR/1 b", "a\u200b\u200bxb")


def test_fields_match_post_metadata():
    assert match_one("platform:weibo 召回", "召回", platform="weibo")
    assert match_one("platform:微博", "x", platform="微博")
    assert not match_one("platform:weibo", "x", platform="douyin")
    assert not match_one("platform:weibo", "x")
    assert match_one('author:"烽火 官方"', "x", author="烽火 官方微博")
    assert match_one("author:ＦＨ", "x", author="fh客服")
    assert not match_one("author:烽火", "x")
    assert match_one("location:广东", "x", location="广东 深圳")
    assert not match_one("location:广东", "x", location="北京")
    assert match_one("NOT location:广东", "x")


def test_exclusions_drop_matching_posts():
    matcher = TopicMatcher.build([TopicSpec("t", "烽火 召回", exclusions="演习 OR 模拟")])
    assert matcher.match("烽火召回") == ["t"]
    assert matcher.match("烽火召回演习") == []
    assert matcher.match("烽火召回模拟") == []


def test_platform_scope():
    matcher = TopicMatcher.build(
        [
            TopicSpec(1, "召回", platforms=frozenset({"weibo", "抖音"})),
            TopicSpec(2, "召回"),
            TopicSpec(3, "召回", platforms=frozenset()),
        ]
    )
    assert matcher.match("召回", platform="weibo") == [1, 2, 3]
    assert matcher.match("召回", platform="douyin") == [1, 2, 3]
    assert matcher.match("召回", platform="news") == [2, 3]
    assert matcher.match("召回") == [2, 3]


def test_topics_without_terms_and_negative_only_topics_are_evaluated():
    matcher = TopicMatcher.build(
        [TopicSpec(1, "platform:weibo"), TopicSpec(2, "NOT 召回"), TopicSpec(3, "召回")]
    )
    assert matcher.match("你好", platform="weibo") == [1, 2]
    assert matcher.match("召回", platform="weibo") == [1, 3]
    assert matcher.match("召回", platform="news") == [3]


def test_results_follow_topic_order_and_terms_are_shared():
    matcher = TopicMatcher.build(
        [TopicSpec("b", "召回"), TopicSpec("a", "召回 OR 下架"), TopicSpec("c", "下架")]
    )
    assert matcher.match("召回和下架") == ["b", "a", "c"]
    assert sorted(matcher.terms) == ["下架", "召回"]


def test_empty_matcher():
    matcher = TopicMatcher.build([])
    assert matcher.match("任何文本") == []
    assert matcher.explain("任何文本") == []
    assert len(matcher) == 0


def test_prebuilt_nodes_are_accepted():
    node = And((Term("烽火"), Or((Term("召回"), Term("下架")))))
    matcher = TopicMatcher.build([TopicSpec(7, node, exclusions=Term("演习"))])
    assert matcher.match("烽火下架") == [7]


def test_invalid_topics_raise_or_are_skipped():
    specs = [
        TopicSpec(1, "召回"),
        TopicSpec(2, "(召回"),
        TopicSpec(3, "x", platforms=frozenset({"mars"})),
    ]
    with pytest.raises(QuerySyntaxError):
        TopicMatcher.build(specs)
    with pytest.raises(ValueError, match="duplicate"):
        TopicMatcher.build([TopicSpec(1, "a"), TopicSpec(1, "b")])
    matcher = TopicMatcher.build(specs, skip_invalid=True)
    assert matcher.topic_ids == (1,)
    assert [topic_id for topic_id, _ in matcher.errors] == [2, 3]
    assert isinstance(matcher.errors[0][1], QuerySyntaxError)
    assert matcher.match("召回") == [1]


# --- explain ----------------------------------------------------------------------------------


def test_explain_reports_hits_in_original_positions():
    text = "ＡＢ\u200b烽火手机召回，烽火"
    result = explain("烽火 召回", text)
    assert result.matched and result.query_matched and not result.excluded and result.in_scope
    assert result.hits == (
        TermHit("烽火", 3, 5),
        TermHit("召回", 7, 9),
        TermHit("烽火", 10, 12),
    )
    for hit in result.hits:
        assert fold(text[hit.start : hit.end]) == hit.term


def test_explain_marks_exclusions_and_scope():
    matcher = TopicMatcher.build(
        [
            TopicSpec(1, "召回", exclusions="演习", platforms=frozenset({"weibo"})),
            TopicSpec(2, "下架"),
        ]
    )
    first, second = matcher.explain("召回演习", platform="douyin")
    assert first.topic_id == 1
    assert (first.matched, first.query_matched, first.excluded, first.in_scope) == (
        False,
        True,
        True,
        False,
    )
    assert first.hits == (TermHit("召回", 0, 2),)
    assert first.exclusion_hits == (TermHit("演习", 2, 4),)
    assert second.matched is False and second.hits == ()


def test_single_query_helpers():
    assert matches("烽火 NEAR/2 召回", "烽火要召回")
    assert not matches("烽火", "召回", exclusions="召回")
    assert matches("platform:weibo", "", platform="wb")
    with pytest.raises(QuerySyntaxError):
        matches("(", "x")


# --- equivalence with the reference on random queries and posts -------------------------------

_VOCAB = ["烽火", "召回", "火", "回", "ab", "b", "烽火召回", "a b"]
_POST_CHARS = ["烽", "火", "召", "回", "a", "b", " ", "x", "Ａ", "\u200b"]
_terms = st.builds(Term, st.sampled_from(_VOCAB), st.booleans())
_fields = st.one_of(
    st.builds(Field, st.just("platform"), st.sampled_from(["weibo", "douyin", "news"])),
    st.builds(
        Field, st.sampled_from(["author", "location"]), st.sampled_from(["广东", "烽火", "a"])
    ),
)


def _extend(children):
    return st.one_of(
        st.builds(Not, children),
        st.builds(lambda items: And(tuple(items)), st.lists(children, min_size=2, max_size=3)),
        st.builds(lambda items: Or(tuple(items)), st.lists(children, min_size=2, max_size=3)),
        st.builds(Near, _terms, _terms, st.integers(1, 6)),
    )


_queries = st.recursive(st.one_of(_terms, _terms, _fields), _extend, max_leaves=8)
_posts = st.lists(st.sampled_from(_POST_CHARS), max_size=30).map("".join)
_meta = st.fixed_dictionaries(
    {
        "platform": st.sampled_from([None, "weibo", "douyin", "news", "微博"]),
        "author": st.sampled_from([None, "", "烽火官方", "广东小a"]),
        "location": st.sampled_from([None, "广东", "北京"]),
    }
)
_scopes = st.sampled_from([None, frozenset({"weibo"}), frozenset({"douyin", "news"})])


@settings(max_examples=300, deadline=None)
@given(
    topics=st.lists(st.tuples(_queries, st.none() | _queries, _scopes), min_size=1, max_size=6),
    posts=st.lists(st.tuples(_posts, _meta), min_size=1, max_size=5),
)
def test_matcher_agrees_with_the_reference_evaluator(topics, posts):
    matcher = TopicMatcher.build(
        [TopicSpec(i, q, exclusions=x, platforms=scope) for i, (q, x, scope) in enumerate(topics)]
    )
    for text, meta in posts:
        platform = normalize_platform(meta["platform"]) if meta["platform"] else None
        expected = [
            i
            for i, (query, exclusions, scope) in enumerate(topics)
            if (scope is None or platform in scope)
            and reference(query, text, **meta)
            and not (exclusions is not None and reference(exclusions, text, **meta))
        ]
        assert matcher.match(text, **meta) == expected
        explained = matcher.explain(text, **meta)
        assert [e.topic_id for e in explained if e.matched] == expected
