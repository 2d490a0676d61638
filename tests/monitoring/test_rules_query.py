"""The watch-topic query language: parsing, errors, normalisation and the canonical printer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.rules import (
    ERROR_CODES,
    PLATFORMS,
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Term,
    fold,
    parse_query,
    terms_of,
    to_query_string,
)


def t(text: str, phrase: bool = False) -> Term:
    return Term(text, phrase)


# --- good queries -----------------------------------------------------------------------------


def test_implicit_and_between_adjacent_terms():
    assert parse_query("烽火 召回") == And((t("烽火"), t("召回")))
    assert parse_query("烽火 召回") == parse_query("烽火 AND 召回")


def test_precedence_not_binds_tighter_than_near_than_and_than_or():
    assert parse_query("a OR b c") == Or((t("a"), And((t("b"), t("c")))))
    assert parse_query("a b OR c") == Or((And((t("a"), t("b"))), t("c")))
    assert parse_query("NOT a b") == And((Not(t("a")), t("b")))
    assert parse_query("a NEAR/5 b c") == And((Near(t("a"), t("b"), 5), t("c")))
    assert parse_query("c OR a NEAR/5 b") == Or((t("c"), Near(t("a"), t("b"), 5)))
    assert parse_query("(a OR b) c") == And((Or((t("a"), t("b"))), t("c")))


def test_chains_are_flat_and_parentheses_of_the_same_operator_collapse():
    assert parse_query("a OR b OR c") == Or((t("a"), t("b"), t("c")))
    assert parse_query("a OR (b OR c)") == Or((t("a"), t("b"), t("c")))
    assert parse_query("a (b c)") == And((t("a"), t("b"), t("c")))
    assert parse_query("((a))") == t("a")


def test_not_stacks_and_applies_to_groups():
    assert parse_query("NOT NOT a") == Not(Not(t("a")))
    assert parse_query("NOT (a OR b)") == Not(Or((t("a"), t("b"))))
    assert parse_query("a NOT b") == And((t("a"), Not(t("b"))))


def test_quoted_phrases_keep_spaces_and_operator_words():
    assert parse_query('"new iphone"') == t("new iphone", True)
    assert parse_query('"a AND b" OR "(x)"') == Or((t("a and b", True), t("(x)", True)))
    assert parse_query('"platform:weibo"') == t("platform:weibo", True)
    assert parse_query(r'"say \"hi\" \\ bye"') == t('say "hi" \\ bye', True)


def test_chinese_quotes_and_operator_aliases():
    assert parse_query("“苹果 手机”") == t("苹果 手机", True)
    assert parse_query("「苹果 手机」 或 『华为』") == Or((t("苹果 手机", True), t("华为", True)))
    assert parse_query("a 且 b 非 c") == And((t("a"), t("b"), Not(t("c"))))
    # Operators are whole words: 非 inside a word is just a character.
    assert parse_query("非法集资") == t("非法集资")


def test_full_width_input_folds_to_half_width_and_lower_case():
    assert parse_query("ＡＢＣ （测试 ＯＲ Ｘ）") == And((t("abc"), Or((t("测试"), t("x")))))
    assert parse_query("ａ　ＮＥＡＲ／５　ｂ") == Near(t("a"), t("b"), 5)
    assert parse_query("ＰＬＡＴＦＯＲＭ：ＷＥＩＢＯ") == Field("platform", "weibo")
    assert parse_query("iPhone") == parse_query("IPHONE") == t("iphone")


def test_lower_case_operator_words_are_terms():
    assert parse_query("a and b") == And((t("a"), t("and"), t("b")))
    assert parse_query("x near/5 y") == And((t("x"), t("near/5"), t("y")))


def test_fields_and_platform_aliases():
    assert parse_query("platform:weibo") == Field("platform", "weibo")
    assert parse_query("platform:微博") == Field("platform", "weibo")
    assert parse_query("平台:小红书") == Field("platform", "xiaohongshu")
    assert parse_query('author:"张 三"') == Field("author", "张 三")
    assert parse_query("location:广东 召回") == And((Field("location", "广东"), t("召回")))
    assert parse_query("author:a:b") == Field("author", "a:b")
    assert parse_query("NOT platform:news") == Not(Field("platform", "news"))


def test_near_distance_and_phrases():
    assert parse_query('召回 NEAR/10 "烽火 手机"') == Near(t("召回"), t("烽火 手机", True), 10)
    assert parse_query("a NEAR/1000 b").distance == 1000
    assert parse_query("a NEAR/007 b").distance == 7


def test_terms_of_lists_each_literal_once_in_order_without_field_values():
    node = parse_query('烽火 (召回 OR "下架 通知") NOT 烽火 author:小明 a NEAR/3 b')
    assert terms_of(node) == ["烽火", "召回", "下架 通知", "a", "b"]


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code", "position", "length"),
    [
        ("", "empty_query", 0, 0),
        ("   ", "empty_query", 0, 3),
        ("(a", "unbalanced_paren", 0, 1),
        ("a)", "unbalanced_paren", 1, 1),
        ("（（a）", "unbalanced_paren", 0, 1),
        ("()", "empty_parens", 0, 2),
        ("NOT", "missing_operand", 0, 3),
        ("a OR", "missing_operand", 2, 2),
        ("a AND OR b", "missing_operand", 2, 3),
        ("a NEAR/5", "missing_operand", 2, 6),
        ("OR a", "missing_left_operand", 0, 2),
        ("a NEAR b", "near_number", 2, 4),
        ("a NEAR/x b", "near_number", 2, 6),
        ("a NEAR/0 b", "near_range", 2, 6),
        ("a NEAR/1001 b", "near_range", 2, 9),
        ("a NEAR/" + "9" * 3000 + " b", "near_range", 2, 3005),
        ("NOT a NEAR/5 b", "near_operand", 0, 5),
        ("a NEAR/5 (b OR c)", "near_operand", 9, 8),
        ("a NEAR/5 platform:weibo", "near_operand", 9, 14),
        ("a NEAR/5 b NEAR/3 c", "near_chain", 11, 6),
        ("plat:weibo", "unknown_field", 0, 4),
        ("声明：道歉", "unknown_field", 0, 2),
        ("platform:", "missing_field_value", 0, 9),
        ("author: x", "missing_field_value", 0, 7),
        ("platform:mars", "unknown_platform", 9, 4),
        ('a "bc', "unterminated_quote", 2, 1),
        ('"abc\\"', "unterminated_quote", 0, 1),
        ("「abc”", "unterminated_quote", 0, 1),
        ('a ""', "empty_phrase", 2, 2),
        ("a ” b", "unmatched_quote", 2, 1),
        (": x", "stray_colon", 0, 1),
        ("(" * 100 + "a" + ")" * 100, "too_deep", 64, 1),
        ("a " * 2001, "query_too_long", 4000, 2),
    ],
)
def test_syntax_errors_have_code_and_position_in_the_original_query(query, code, position, length):
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    error = caught.value
    assert (error.code, error.position, error.length) == (code, position, length)
    assert error.message == ERROR_CODES[code].format(**error.params)
    assert error.as_dict()["code"] == code


def test_error_positions_count_original_characters_before_folding():
    # The zero-width space and the full-width letters are folded away or narrowed, yet the
    # error still points at the full-width parenthesis in the string the user typed.
    query = "ＡＢ\u200bＣ （召回"
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert caught.value.position == query.index("（")


def test_error_messages_are_plain_english():
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query("a NEAR b")
    assert caught.value.message == "NEAR needs a number, like NEAR/5"
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query("plat:x")
    assert caught.value.message.startswith("unknown field 'plat'")
    assert caught.value.params == {"field": "plat"}


# --- AST invariants and the canonical printer -------------------------------------------------


def test_nodes_normalise_their_input():
    assert Term("ＡＢＣ") == Term("abc")
    assert Term("a b") == Term("a b", phrase=True)
    assert Term("或").phrase is True
    assert And((t("a"), And((t("b"), t("c"))))) == And((t("a"), t("b"), t("c")))
    assert Field("平台", "抖音") == Field("platform", "douyin")
    for bad in (
        lambda: Term("\u200b"),
        lambda: And((t("a"),)),
        lambda: Near(t("a"), t("b"), 0),
        lambda: Field("platform", "mars"),
        lambda: Field("plat", "x"),
    ):
        with pytest.raises(ValueError):
            bad()


def test_canonical_form_examples():
    assert to_query_string(parse_query("烽火 召回 或 下架")) == "烽火 AND 召回 OR 下架"
    assert to_query_string(parse_query("(a OR b) c")) == "(a OR b) AND c"
    assert to_query_string(parse_query("NOT (a NEAR/5 b)")) == "NOT (a NEAR/5 b)"
    assert to_query_string(parse_query('“他说"好"”')) == r'"他说\"好\""'
    assert (
        to_query_string(parse_query('author:"a b" 平台:微博')) == 'author:"a b" AND platform:weibo'
    )
    assert to_query_string(Term("或")) == '"或"'
    assert to_query_string(Term("a:b")) == '"a:b"'


# Fragments that stress quoting: spaces, quotes of every kind, backslashes, parentheses,
# colons, operator words and aliases, full-width forms and an invisible character.
_FRAGMENTS = [
    "a",
    "Z",
    "召回",
    "烽火",
    " ",
    '"',
    "\\",
    "(",
    ")",
    "（",
    ":",
    "：",
    "“",
    "”",
    "「",
    "」",
    "『",
    "』",
    "AND",
    "OR",
    "NOT",
    "NEAR/5",
    "NEAR",
    "且",
    "或",
    "非",
    "Ａ",
    "\u200b",
    "'",
    "/",
    "5",
    "-",
    "\t",
]
_text = st.one_of(
    st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=6).map("".join),
    st.text(min_size=1, max_size=8),
).filter(lambda text: bool(fold(text)))
_terms = st.builds(Term, _text, st.booleans())
_fields = st.one_of(
    st.builds(Field, st.just("platform"), st.sampled_from(PLATFORMS)),
    st.builds(Field, st.sampled_from(["author", "location"]), _text),
)
_leaves = st.one_of(_terms, _terms, _fields)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(Not, children),
        st.builds(lambda items: And(tuple(items)), st.lists(children, min_size=2, max_size=4)),
        st.builds(lambda items: Or(tuple(items)), st.lists(children, min_size=2, max_size=4)),
        st.builds(Near, _terms, _terms, st.integers(1, 1000)),
    )


queries = st.recursive(_leaves, _extend, max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(queries)
def test_canonical_form_round_trips(node):
    text = to_query_string(node)
    assert parse_query(text) == node
    assert to_query_string(parse_query(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_input_parses_or_raises_a_positioned_syntax_error(query):
    try:
        node = parse_query(query)
    except QuerySyntaxError as error:
        assert error.code in ERROR_CODES
        assert 0 <= error.position <= len(query)
        assert error.position + error.length <= len(query)
    else:
        assert parse_query(to_query_string(node)) == node


def test_platform_codes_match_the_models():
    from monitoring.models import PLATFORM_CHOICES

    assert tuple(code for code, _ in PLATFORM_CHOICES) == PLATFORMS


def test_package_imports_without_django():
    code = (
        "import sys, monitoring.rules; assert not any(m.startswith('django') for m in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False
    )
    assert result.returncode == 0, result.stderr
