"""The sensitive-term library: CSV import/export, the default set and the scanner."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.rules import (
    CATEGORIES,
    SensitiveTermMatcher,
    SensitiveTermRow,
    default_terms,
    fold,
    read_terms_csv,
    write_terms_csv,
)

Row = SensitiveTermRow


def test_reads_utf8_with_and_without_bom():
    data = "term,category,weight\n召回,recall,7\n爆炸,product_safety,8\n".encode()
    expected = [Row("召回", "recall", 7), Row("爆炸", "product_safety", 8)]
    assert read_terms_csv(data) == (expected, [])
    assert read_terms_csv(b"\xef\xbb\xbf" + data) == (expected, [])


def test_reads_gb18030_and_utf16_tab_separated():
    text = "term,category,weight\r\n食物中毒,food_safety,9\r\n"
    assert read_terms_csv(text.encode("gb18030")) == ([Row("食物中毒", "food_safety", 9)], [])
    tabbed = text.replace(",", "\t")
    assert read_terms_csv(tabbed.encode("utf-16")) == ([Row("食物中毒", "food_safety", 9)], [])


def test_chinese_headers_free_column_order_labels_and_extra_columns():
    data = "权重,备注,敏感词,类别\n７,内部,ＡＢＣ召回,召回\n".encode()
    assert read_terms_csv(data) == ([Row("abc召回", "recall", 7)], [])


def test_header_is_required():
    rows, errors = read_terms_csv("召回,recall,7\n".encode())
    assert rows == []
    assert errors and errors[0][0] == 1 and "header" in errors[0][1]
    assert read_terms_csv(b"")[1][0][0] == 1


def test_bad_rows_are_reported_with_line_numbers_and_skipped():
    data = (
        (
            "term,category,weight\n"  # 1
            "召回,recall,7\n"  # 2
            ",recall,5\n"  # 3 empty term
            "下架,recal,5\n"  # 4 unknown category
            "停售,recall,0\n"  # 5
            "停产,recall,11\n"  # 6
            "封存,recall,5.0\n"  # 7
            "退市,recall,\n"  # 8
            "\n" + "长" * 101 + ",recall,5\n"  # 9 blank: ignored  # 10 too long
            "召回,exposure,3\n"  # 11 duplicate: the last one wins
        ).encode()
    )
    rows, errors = read_terms_csv(data)
    assert rows == [Row("召回", "exposure", 3)]
    assert [line for line, _ in errors] == [3, 4, 5, 6, 7, 8, 10, 11]
    messages = dict(errors)
    assert messages[3] == "empty term"
    assert "unknown category 'recal'" in messages[4]
    assert "weight must be a whole number from 1 to 10" in messages[5]
    assert "duplicate term '召回' (also on line 2)" in messages[11]


def test_unreadable_tail_and_control_characters_are_reported():
    data = b"term,category,weight\nab\x00c,recall,7\n" + "召回,recall,7\n".encode() + b'"'
    data += b"x" * 200_000
    rows, errors = read_terms_csv(data)
    assert rows == [Row("召回", "recall", 7)]
    assert errors[0] == (2, "term contains control characters")
    assert errors[1][1].startswith("unreadable CSV")


def test_custom_category_set():
    data = "term,category,weight\n新品,launch,2\n".encode()
    assert read_terms_csv(data)[0] == []
    assert read_terms_csv(data, categories={"launch"}) == ([Row("新品", "launch", 2)], [])


def test_export_is_excel_friendly_and_guards_formulas():
    data = write_terms_csv([Row("=cmd|' /c calc'!A0", "fraud", 5), Row("召回", "recall", 7)])
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "term,category,weight"
    assert "\r\n'=cmd" in text  # the apostrophe stops Excel evaluating the cell
    assert read_terms_csv(data)[0][0].term == "=cmd|' /c calc'!a0"


_terms = (
    st.text(
        alphabet=st.sampled_from(list("召回爆炸ab=+-@'\",;\t\r\n 「」")) | st.characters(),
        min_size=1,
        max_size=20,
    )
    .map(lambda text: fold(text).strip())
    .filter(lambda term: 0 < len(term) <= 100)
    # Control characters are rejected on import; lone surrogates cannot be encoded at all.
    .filter(lambda term: not any(unicodedata.category(char) in {"Cc", "Cs"} for char in term))
)
_rows = st.lists(
    st.builds(Row, _terms, st.sampled_from(sorted(CATEGORIES)), st.integers(1, 10)),
    max_size=15,
    unique_by=lambda row: row.term,
)


@settings(max_examples=200, deadline=None)
@given(_rows)
def test_csv_round_trip(rows):
    assert read_terms_csv(write_terms_csv(rows)) == (rows, [])


def test_default_set_loads_and_covers_every_category():
    rows = default_terms()
    assert 150 <= len(rows) <= 250
    assert {row.category for row in rows} == set(CATEGORIES)
    assert all(1 <= row.weight <= 10 and row.term == fold(row.term) for row in rows)
    assert len({row.term for row in rows}) == len(rows)
    by_term = {row.term: row for row in rows}
    for term in ("召回", "食物中毒", "甲醛超标", "割韭菜", "12315", "辱华", "欠薪", "约谈"):
        assert term in by_term


def test_scanner_scores_distinct_terms_and_skips_terms_inside_longer_ones():
    matcher = SensitiveTermMatcher(
        [Row("裁员", "labor", 5), Row("暴力裁员", "labor", 8), Row("爆炸", "product_safety", 8)]
    )
    scan = matcher.scan("暴力裁员之后又裁员，爆炸爆炸")
    assert [(hit.term, hit.positions) for hit in scan.hits] == [
        ("暴力裁员", ((0, 4),)),
        ("裁员", ((7, 9),)),
        ("爆炸", ((10, 12), (12, 14))),
    ]
    assert scan.score == 8 + 5 + 8
    assert scan.categories == {"labor", "product_safety"}
    assert scan.max_weight == 8


def test_scanner_folds_text_and_reports_original_positions():
    matcher = SensitiveTermMatcher([Row("ABC", "fraud", 3)])
    scan = matcher.scan("x\u200bＡ\u200bＢc")
    assert scan.hits[0].term == "abc"
    assert scan.hits[0].positions == ((2, 6),)


def test_scanner_with_the_default_set_and_empty_set():
    scan = SensitiveTermMatcher.default().scan("网友去12315投诉烽火手机爆炸")
    assert {"12315", "投诉", "爆炸"} <= {hit.term for hit in scan.hits}
    assert "315" not in {hit.term for hit in scan.hits}  # inside 12315
    empty = SensitiveTermMatcher([]).scan("爆炸")
    assert (empty.hits, empty.score, empty.max_weight) == ((), 0, 0)
