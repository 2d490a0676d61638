"""parse_payload: format detection, encodings, batches, duplicates, whole-payload errors."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from monitoring.ingest import PayloadError, parse_payload
from monitoring.ingest.timeparse import SHANGHAI

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=SHANGHAI)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def item(external_id: str, text: str = "云朵咖啡", **extra: object) -> dict[str, object]:
    return {
        "external_id": external_id,
        "platform": "weibo",
        "text": text,
        "posted_at": "2026-11-24T10:00:00+08:00",
        **extra,
    }


def dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def test_items_object_batch() -> None:
    result = parse_payload(fixture("normalized_batch.json"), now=NOW)
    assert result.format == "json"
    assert [i.external_id for i in result.items] == ["5231265311393455", "5231265311393999"]
    repost = result.items[1]
    assert repost.url is None  # javascript: dropped
    assert "alert" not in repost.text
    assert repost.author_followers == 12000
    assert repost.location == "江苏"
    assert result.rejected == []


def test_json_array_and_single_record() -> None:
    array = parse_payload(dumps([item("a"), item("b")]), now=NOW)
    assert [i.external_id for i in array.items] == ["a", "b"]
    single = parse_payload(dumps(item("solo")), now=NOW)
    assert [i.external_id for i in single.items] == ["solo"]


def test_rejections_carry_the_zero_based_record_index() -> None:
    result = parse_payload(dumps([item("a"), {"external_id": "b"}, 7, item("c")]), now=NOW)
    assert [i.external_id for i in result.items] == ["a", "c"]
    assert [(r.index, r.error) for r in result.rejected] == [
        (1, "text is missing"),
        (2, "record must be a JSON object, got int"),
    ]


def test_jsonl_rejects_bad_lines_by_line_number_and_keeps_the_rest() -> None:
    result = parse_payload(fixture("normalized.jsonl"), filename="export.jsonl", now=NOW)
    assert result.format == "jsonl"
    assert [i.external_id for i in result.items] == ["n-1", "n-2", "n-3"]
    assert [r.index for r in result.rejected] == [4, 5, 8]
    assert result.rejected[0].error == "posted_at is missing"
    assert result.rejected[1].error.startswith("invalid JSON at column")
    assert result.rejected[2].error == "record must be a JSON object, got list"


def test_jsonl_is_detected_without_a_hint() -> None:
    body = b"\n".join(dumps(item(str(n))) for n in range(3))
    result = parse_payload(body, now=NOW)
    assert result.format == "jsonl"
    assert len(result.items) == 3


def test_jsonl_with_a_broken_first_line_is_still_jsonl() -> None:
    body = b'{"external_id": \n' + dumps(item("ok"))
    result = parse_payload(body, content_type="application/x-ndjson", now=NOW)
    assert [i.external_id for i in result.items] == ["ok"]
    assert result.rejected[0].index == 1


def test_duplicates_in_a_batch_keep_the_most_complete_record() -> None:
    result = parse_payload(fixture("normalized.jsonl"), filename="x.jsonl", now=NOW)
    assert result.duplicates_in_batch == 1
    n1 = result.items[0]
    assert n1.external_id == "n-1"
    assert (n1.likes, n1.reposts, n1.location, n1.author_followers) == (9, 1, "上海", 320)


def test_duplicates_tie_keeps_the_last_and_platform_is_part_of_the_key() -> None:
    batch = [
        item("same", "旧的"),
        item("same", "新的"),
        {**item("same", "别的平台"), "platform": "douyin"},
    ]
    result = parse_payload(dumps({"items": batch}), now=NOW)
    assert result.duplicates_in_batch == 1
    assert [(i.platform, i.text) for i in result.items] == [
        ("weibo", "新的"),
        ("douyin", "别的平台"),
    ]


def test_less_complete_later_duplicate_does_not_replace() -> None:
    batch = [item("d", "完整", location="广东", metrics={"likes": 1}), item("d", "简略")]
    result = parse_payload(dumps(batch), now=NOW)
    assert [i.text for i in result.items] == ["完整"]
    assert result.duplicates_in_batch == 1


def test_normalized_flat_csv_with_multiline_field() -> None:
    result = parse_payload(fixture("normalized_flat.csv"), content_type="text/csv", now=NOW)
    news, post = result.items
    assert (news.platform, news.views, news.author_verified, news.title) == (
        "news",
        1200,
        True,
        "云朵咖啡回应异物事件",
    )
    assert post.text == "评论区都在说退款难，\n有人成功退了吗？"
    assert (post.parent_id, post.root_id, post.author_followers) == ("c-1", "c-1", 3456)


def test_csv_row_numbers_count_physical_lines() -> None:
    body = (
        "external_id,platform,text,posted_at\n"
        'a,weibo,"两行\n内容",2026-11-24 10:00\n'
        "\n"
        "b,weibo,,2026-11-24 10:00\n"
        "c,weibo,太多列,2026-11-24 10:00,extra\n"
        "d,weibo,少列\n"
    ).encode()
    result = parse_payload(body, now=NOW)
    assert [i.external_id for i in result.items] == ["a"]
    assert [(r.index, r.error) for r in result.rejected] == [
        (5, "text is empty"),
        (6, "row has 5 fields but the header has 4"),
        (7, "posted_at is missing"),
    ]


def test_tab_and_semicolon_separated_csv() -> None:
    tsv = "external_id\tplatform\ttext\tposted_at\nt1\tweibo\t制表符分隔\t2026-11-24 10:00\n"
    assert parse_payload(tsv.encode(), now=NOW).items[0].text == "制表符分隔"
    ssv = "external_id;platform;text;posted_at\ns1;weibo;分号分隔;2026-11-24 10:00\n"
    assert parse_payload(ssv.encode(), now=NOW).items[0].text == "分号分隔"


def test_gbk_csv_without_declaration_is_detected() -> None:
    body = "external_id,platform,text,posted_at\ng1,weibo,国标编码的投诉,2026-11-24 10:00\n"
    result = parse_payload(body.encode("gbk"), now=NOW)
    assert result.encoding == "gb18030"
    assert result.items[0].text == "国标编码的投诉"


def test_charset_in_the_content_type_is_honoured() -> None:
    body = dumps(item("cs", "声明了编码")).decode().encode("gb18030")
    result = parse_payload(body, content_type="application/json; charset=GBK", now=NOW)
    assert result.items[0].text == "声明了编码"
    with pytest.raises(PayloadError, match=r"not valid utf-8 \(declared\)"):
        parse_payload(body, content_type="application/json; charset=utf-8", now=NOW)


def test_a_wrong_western_charset_label_does_not_cause_mojibake() -> None:
    body = dumps(item("l1", "服务器默认 latin-1"))
    result = parse_payload(body, content_type="text/plain; charset=ISO-8859-1", now=NOW)
    assert result.items[0].text == "服务器默认 latin-1"


def test_utf16_with_bom() -> None:
    body = dumps(item("u16", "UTF-16 文件")).decode().encode("utf-16")
    assert parse_payload(body, now=NOW).items[0].text == "UTF-16 文件"


def test_mixed_encodings_are_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="mixes encodings: line 2 is UTF-8 but line 3 is not"):
        parse_payload(fixture("mixed_encoding.csv"), now=NOW)


def test_undecodable_bytes_are_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="neither UTF-8 nor GB18030"):
        parse_payload(b'{"text": "\xff\xfe\xfd\x80"}', now=NOW)


def test_corrupt_utf8_file_is_refused_instead_of_decoded_as_gb18030() -> None:
    good = "external_id,platform,text,posted_at\nk1,weibo,云朵咖啡,2026-11-24 10:00\n"
    # One truncated character: not UTF-8 any more, yet the bytes are valid GB18030 and
    # would decode to mojibake ("浜戞湹鍜栧暋...") without the mixed-encoding check.
    body = good.encode() + b"k2,weibo," + "云朵咖啡啊".encode()[:-1] + b"x,2026-11-24 10:00\n"
    body.decode("gb18030")
    with pytest.raises(PayloadError, match="mixes encodings: line 2 is UTF-8 but line 3 is not"):
        parse_payload(body, now=NOW)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "payload is empty"),
        (b"  \n\t ", "payload is empty"),
        (b"\xef\xbb\xbf", "payload is empty"),
        (b'{"items": [1, 2', "invalid JSON at line 1 column 16"),
        (b'{"items": "nope"}', "'items' must be a list, got str"),
        (b"null", "JSON top level must be an object or an array, got null"),
        (b'"just a string"', "got str"),
        (b'{"hello": "world"}', "neither a batch nor a record"),
        (b"[" * 100_000, "nested too deeply"),
        (b"[" + b"1" * 5000 + b"]", "invalid JSON: Exceeds the limit"),
        (b"<html><body>502 Bad Gateway</body></html>", "HTML page, not an RSS/Atom feed"),
        (b"a,b,c\n1,2,3\n", "unrecognised CSV header"),
    ],
)
def test_whole_payload_failures_say_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_payload(body, now=NOW)


def test_malformed_json_fixture_reports_line_and_column() -> None:
    with pytest.raises(PayloadError) as info:
        parse_payload(fixture("malformed.json"), now=NOW)
    assert str(info.value) == "invalid JSON at line 3 column 3: Expecting ',' delimiter"


def test_malformed_csv_fixture() -> None:
    with pytest.raises(PayloadError, match="malformed CSV at line 3: unexpected end of data"):
        parse_payload(fixture("malformed.csv"), now=NOW)


def test_payload_size_limit() -> None:
    with pytest.raises(PayloadError, match="over the limit of 10"):
        parse_payload(dumps([item("a")]), max_bytes=10, now=NOW)


def test_explicit_format_overrides_sniffing() -> None:
    body = dumps(item("x"))
    with pytest.raises(PayloadError, match="unrecognised CSV header"):
        parse_payload(body, fmt="csv", now=NOW)
    assert parse_payload(body, fmt="jsonl", now=NOW).format == "jsonl"
    with pytest.raises(ValueError, match="fmt must be one of"):
        parse_payload(body, fmt="xml", now=NOW)


def test_nul_bytes_inside_json_strings_are_stripped() -> None:
    body = b'[{"external_id": "z\\u0000", "platform": "weibo", "text": "a\x00b", ' + (
        b'"posted_at": "2026-11-24 10:00"}]'
    )
    result = parse_payload(body, now=NOW)
    (only,) = result.items
    assert (only.external_id, only.text) == ("z", "ab")
    assert only.raw["text"] == "ab"


def test_weibo_crawler_file_json_with_data_key_hint() -> None:
    with pytest.raises(PayloadError, match="configure a field mapping"):
        parse_payload(fixture("weibo_api_mapping.json"), now=NOW)
