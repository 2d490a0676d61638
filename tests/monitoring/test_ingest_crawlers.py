"""Records as the open-source crawlers export them (fixtures in tests/fixtures/ingest)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from monitoring.ingest import (
    ItemError,
    detect_shape,
    expand_record,
    normalize_record,
    parse_payload,
)
from monitoring.ingest.timeparse import SHANGHAI

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=SHANGHAI)


def load(name: str) -> object:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def parse(name: str, **kwargs: object) -> object:
    data = (FIXTURES / name).read_bytes()
    return parse_payload(data, filename=name, now=NOW, **kwargs)  # type: ignore[arg-type]


# --- weibo-crawler ----------------------------------------------------------------------


def test_weibo_crawler_file_yields_posts_and_the_retweeted_original() -> None:
    result = parse("weibo_crawler.json")
    by_id = {item.external_id: item for item in result.items}
    assert list(by_id) == ["5231265311393455", "5231299999999999", "5231300000000001"]

    post = by_id["5231265311393455"]
    assert post.platform == "weibo"
    assert post.text.startswith("刚在云朵咖啡门店买的拿铁")
    assert "[怒]" in post.text and "<img" not in post.text
    assert post.posted_at == datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
    assert (post.likes, post.comments, post.reposts) == (42, 10, 3)
    assert post.url == "https://weibo.com/6012345678/Qd7lV5Qv5"
    # followers / verified come from the file's "user" object
    assert (post.author_followers, post.author_verified) == (23456, True)

    repost = by_id["5231300000000001"]
    original = by_id["5231299999999999"]
    assert repost.parent_id == repost.root_id == original.external_id
    assert (repost.likes, repost.reposts) == (11000, 10000)
    assert original.author_name == "云朵咖啡官方"
    assert original.parent_id is None
    assert original.author_followers is None  # another user: the file's user is not theirs

    assert [r.index for r in result.rejected] == [2]
    assert result.rejected[0].error == "text is missing"


def test_expand_record_puts_the_original_before_the_repost() -> None:
    weibo = load("weibo_crawler.json")["weibo"][1]  # type: ignore[index]
    items = expand_record(weibo, now=NOW)
    assert [i.external_id for i in items] == ["5231299999999999", "5231300000000001"]
    assert normalize_record(weibo, now=NOW) == items[-1]
    assert detect_shape(weibo) == "weibo_crawler"


def test_weibo_api_status_with_deleted_original_keeps_the_link() -> None:
    status = load("weibo_api_status.json")[0]  # type: ignore[index]
    items = expand_record(status, now=NOW)
    assert len(items) == 1  # the deleted original has no user/date: no item for it
    item = items[0]
    assert item.parent_id == "5231200000000000"
    assert item.author_id == "2000000001"
    assert item.author_followers == 34000
    assert item.location == "广东"
    assert item.text == "排队两小时就为了退一杯咖啡？#云朵咖啡退款难# 真的服了 [允悲]"
    assert item.url == "https://weibo.com/2000000001/Qd8w00001"
    assert item.posted_at == datetime(2026, 11, 24, 13, 20, tzinfo=SHANGHAI)


def test_weibo_crawler_csv_strips_tabs_and_builds_the_original_from_source_columns() -> None:
    result = parse("weibo_crawler.csv")
    assert result.format == "csv"
    assert result.encoding == "utf-8-sig"
    ids = [item.external_id for item in result.items]
    assert ids == ["5231265311393455", "5231299999999999", "5231300000000001"]
    repost = result.items[2]
    assert repost.parent_id == "5231299999999999"
    assert (repost.likes, repost.comments, repost.reposts) == (11000, 3000, 10000)
    original = result.items[1]
    assert original.author_id == "1900000001"
    assert original.author_name == "云朵咖啡官方"
    assert original.posted_at == datetime(2026, 11, 24, 11, 40, tzinfo=SHANGHAI)
    # The Excel-mangled id is line 4 of the file (header is line 1).
    assert len(result.rejected) == 1
    assert result.rejected[0].index == 4
    assert "scientific notation" in result.rejected[0].error


def test_weibo_crawler_csv_named_after_the_user_gets_that_author_id() -> None:
    data = (FIXTURES / "weibo_crawler.csv").read_bytes()
    result = parse_payload(data, filename="6012345678.csv", now=NOW)
    assert result.items[0].author_id == "6012345678"
    assert result.items[0].url == "https://weibo.com/6012345678/Qd7lV5Qv5"


def test_weibo_search_csv_in_gbk() -> None:
    result = parse("weibo_search_gbk.csv")
    assert result.encoding == "gb18030"
    first, second = result.items
    assert first.external_id == "5231400000000001"
    assert first.author_id == "3000000001"
    assert first.author_name == "西湖边的猫"
    assert first.text == "云朵咖啡的杯盖是不是换供应商了？最近两次都漏，烫到手了。"
    assert (first.reposts, first.comments, first.likes) == (5, 12, 30)
    assert first.location == "浙江"
    assert first.author_verified is False
    assert second.author_verified is True  # 蓝V


# --- MediaCrawler -------------------------------------------------------------------------


def test_mediacrawler_douyin() -> None:
    result = parse("mediacrawler_douyin.json")
    first, second = result.items
    assert detect_shape(load("mediacrawler_douyin.json")[0]) == "mediacrawler_douyin"  # type: ignore[index]
    assert first.platform == "douyin"
    assert first.external_id == "7441234567890123456"
    assert (first.likes, first.comments, first.reposts) == (23000, 3456, 789)
    assert first.author_id == "88880001"
    assert first.location == "浙江"
    assert first.title is None  # same as desc
    assert first.posted_at == datetime(2026, 11, 24, 14, 0, tzinfo=SHANGHAI)
    # newer export: creator_hash instead of user_id, create_time as a string, "None" counts
    assert second.author_id == "c0ffee1234567890"
    assert second.likes is None
    assert second.url == "https://www.douyin.com/video/7441234567890123457"
    assert result.rejected[0].index == 2
    assert "liked_count is negative" in result.rejected[0].error


def test_mediacrawler_xiaohongshu_notes_and_comments() -> None:
    result = parse("mediacrawler_xhs.jsonl")
    assert result.format == "jsonl"
    note, video, comment = result.items
    assert note.platform == "xiaohongshu"
    assert note.title == "云朵咖啡会员积分清零了？"
    assert note.text.startswith("昨天还有3200积分")
    assert note.posted_at == datetime(2026, 11, 24, 9, 40, tzinfo=SHANGHAI)  # milliseconds
    assert (note.likes, note.comments, note.reposts) == (12000, 2000, 97)
    assert video.author_id == "9f8e7d6c5b4a"  # creator_hash
    assert video.likes == 100000  # "10w+"
    assert comment.external_id == "6742c0000000000000000001"
    assert comment.parent_id == comment.root_id == "6742a1b2000000001a01c0de"
    assert comment.comments == 3
    assert comment.likes == 45
    assert [r.index for r in result.rejected] == [4]
    assert "before 2000-01-01" in result.rejected[0].error


def test_mediacrawler_weibo_csv() -> None:
    result = parse("mediacrawler_weibo.csv")
    (item,) = result.items
    assert item.platform == "weibo"
    assert item.external_id == "5231500000000001"
    assert (item.likes, item.comments, item.reposts) == (15, 7, 2)
    assert item.author_name == "魔都打工人"
    assert item.posted_at == datetime(2026, 11, 24, 17, 20, tzinfo=SHANGHAI)
    assert result.rejected[0].index == 3
    assert "missing" in result.rejected[0].error


@pytest.mark.parametrize(
    ("rec", "shape", "platform"),
    [
        (
            {"note_id": "1", "content": "x", "create_date_time": "2026-11-24 10:00"},
            "mediacrawler_weibo",
            "weibo",
        ),
        (
            {"note_id": "1", "title": "t", "desc": "x", "time": 1795485600000},
            "mediacrawler_xhs",
            "xiaohongshu",
        ),
        (
            {
                "note_id": "1",
                "desc": "x",
                "time": 1795485600,
                "note_url": "https://m.weibo.cn/detail/1",
            },
            "mediacrawler_weibo",
            "weibo",
        ),
        (
            {"aweme_id": "1", "desc": "x", "create_time": 1795485600},
            "mediacrawler_douyin",
            "douyin",
        ),
        (
            {"comment_id": "9", "aweme_id": "1", "content": "评论", "create_time": 1795485600},
            "mediacrawler_comment",
            "douyin",
        ),
        (
            {
                "comment_id": "9",
                "note_id": "1",
                "content": "评论",
                "create_date_time": "2026-11-24 10:00",
            },
            "mediacrawler_comment",
            "weibo",
        ),
    ],
)
def test_mediacrawler_platform_is_inferred_from_keys(
    rec: dict[str, object], shape: str, platform: str
) -> None:
    assert detect_shape(rec) == shape
    assert normalize_record(rec, now=NOW).platform == platform


def test_crawler_count_as_wrong_type_names_the_field() -> None:
    with pytest.raises(ItemError, match="reposts_count must be a number, got dict"):
        normalize_record(
            {"id": "1", "text": "x", "created_at": "2026-11-24", "reposts_count": {"n": 1}},
            now=NOW,
        )
