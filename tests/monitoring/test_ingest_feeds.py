"""RSS / Atom / JSON Feed, RSSHub ids, and XML attacks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from monitoring.ingest import (
    PayloadError,
    external_id_from_url,
    parse_payload,
    platform_from_url,
    weibo_bid_to_mid,
    weibo_mid_to_bid,
)
from monitoring.ingest import feeds as feeds_module
from monitoring.ingest.timeparse import SHANGHAI

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=SHANGHAI)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_rsshub_weibo_feed() -> None:
    result = parse_payload(fixture("rsshub_weibo.xml"), content_type="application/rss+xml", now=NOW)
    assert result.format == "rss"
    first, second = result.items
    assert first.platform == "weibo"
    # the bid in weibo.com/<uid>/<bid> becomes the numeric id weibo-crawler uses
    assert first.external_id == "5231299999999999"
    assert first.author_name == "云朵咖啡官方"
    assert first.posted_at == datetime(2026, 11, 24, 11, 40, tzinfo=SHANGHAI)
    assert first.text.endswith("核查结果将于今日18点前公布。")
    assert "img" not in first.text and "steal" not in first.text
    assert first.title is None  # RSSHub's title is the text cut short
    assert first.url == "https://weibo.com/1900000001/Qd8fRFXsj"
    assert second.author_name == "云朵咖啡官方"  # from dc:creator
    assert second.text == "感谢大家的监督 [心] 我们会持续公布进展。详情"
    assert [(r.index, r.error) for r in result.rejected] == [
        (2, "entry has no pubDate / published / updated date")
    ]


def test_same_weibo_post_gets_the_same_id_from_rss_and_from_the_crawler() -> None:
    rss = parse_payload(fixture("rsshub_weibo.xml"), now=NOW)
    crawler = parse_payload(fixture("weibo_crawler.json"), now=NOW)
    assert {i.key for i in rss.items} & {i.key for i in crawler.items} == {
        ("weibo", "5231299999999999")
    }


def test_gb18030_feed_with_xml_declaration() -> None:
    data = fixture("rsshub_douyin_gb18030.xml")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = parse_payload(data, now=NOW)
    assert result.encoding == "gb18030"
    video, note = result.items
    assert (video.platform, video.external_id) == ("douyin", "7441234567890123456")
    assert video.text == "探店云朵咖啡新品，结果喝出了异物…… #云朵咖啡 #避雷"
    assert video.author_name == "探店阿杰"
    assert video.posted_at == datetime(2026, 11, 24, 14, 0, tzinfo=SHANGHAI)
    assert note.external_id == "7441234567890123999"
    assert "𠀀𪚥" in note.text  # four-byte GB18030 characters survive


def test_atom_feed_uses_the_default_platform_for_unknown_sites() -> None:
    result = parse_payload(fixture("atom_news.xml"), default_platform="news", now=NOW)
    assert result.format == "atom"
    article, flash = result.items
    assert article.platform == "news"
    assert article.text == "云朵咖啡今日发布情况说明，称已下架同批次杯盖。"
    assert article.title == "云朵咖啡回应门店异物事件"
    assert article.author_name == "记者 李明"
    assert len(article.external_id) == 20  # hash of the URL guid
    again = parse_payload(fixture("atom_news.xml"), default_platform="news", now=NOW)
    assert again.items[0].external_id == article.external_id  # stable
    assert flash.external_id == "tag:news.example.com,2026:flash-77"
    assert flash.text == "没有链接只有标题的快讯"
    assert flash.posted_at == datetime(2026, 11, 24, 16, 10, tzinfo=SHANGHAI)  # no zone


def test_json_feed() -> None:
    result = parse_payload(fixture("jsonfeed.json"), content_type="application/feed+json", now=NOW)
    assert result.format == "jsonfeed"
    answer, plain, video = result.items
    assert (answer.platform, answer.external_id) == ("forum", "zhihu-answer-3000000001")
    assert answer.text == "作为前咖啡店员说两句：杯盖质量问题去年就有人反映过。"
    assert answer.author_name == "前咖啡师"
    assert plain.external_id == "plain-id-2"
    assert plain.platform == "forum"  # from home_page_url
    assert plain.author_name == "JSON Feed 1.0 的作者"
    assert (video.platform, video.external_id) == ("other", "bilibili-BV1xx411c7mD")
    assert [r.index for r in result.rejected] == [3, 4]
    assert "future" in result.rejected[1].error


def test_xml_bomb_is_refused_before_it_is_expanded() -> None:
    # Refused at the entity declaration, before any expansion could happen.
    with pytest.raises(PayloadError, match="DOCTYPE / entity declaration, which is refused"):
        parse_payload(fixture("xml_bomb.xml"), now=NOW)


def test_external_entity_is_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER", encoding="utf-8")
    xml = fixture("xxe.xml").replace(b"file:///etc/passwd", secret.as_uri().encode())

    def feedparser_must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("feedparser saw a document with a DTD")

    monkeypatch.setattr(feeds_module.feedparser, "parse", feedparser_must_not_run)
    for data in (xml, fixture("xxe.xml")):
        with pytest.raises(PayloadError) as info:
            parse_payload(data, now=NOW)
        assert "TOP-SECRET-MARKER" not in str(info.value)
        assert "root:" not in str(info.value)


def test_parameter_entities_and_external_dtds_are_refused() -> None:
    for doctype in (
        '<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/evil.dtd">',
        '<!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        "<!DOCTYPE rss>",
    ):
        data = f'<?xml version="1.0"?>{doctype}<rss version="2.0"><channel/></rss>'.encode()
        with pytest.raises(PayloadError, match="refused"):
            parse_payload(data, now=NOW)


def test_malformed_xml_is_a_payload_error_with_position() -> None:
    with pytest.raises(PayloadError, match="malformed XML: mismatched tag: line 2"):
        parse_payload(fixture("malformed.xml"), now=NOW)


def test_xml_that_is_not_a_feed() -> None:
    with pytest.raises(PayloadError, match="root element <svg> is not an RSS or Atom feed"):
        parse_payload(b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', now=NOW)


def test_feedparser_never_treats_content_as_a_path(tmp_path: Path) -> None:
    # Bare strings/bytes given to feedparser.parse are opened as files or URLs.
    secret = tmp_path / "feed.xml"
    secret.write_text("<rss><channel><item><title>from disk</title></item></channel></rss>")
    with pytest.raises(PayloadError):
        parse_payload(str(secret).encode(), fmt="rss", now=NOW)


def test_weibo_mid_and_bid_conversion() -> None:
    assert weibo_bid_to_mid("MzVRA2E8G") == "4885639100630954"
    assert weibo_mid_to_bid("4885639100630954") == "MzVRA2E8G"
    for mid in ("5231265311393455", "5231300000000001", "4000000000000000", "3501756485200075"):
        assert weibo_bid_to_mid(weibo_mid_to_bid(mid)) == mid


@pytest.mark.parametrize(
    ("url", "platform", "expected"),
    [
        ("https://weibo.com/1195230310/MzVRA2E8G", "weibo", "4885639100630954"),
        ("https://weibo.com/1195230310/4885639100630954", "weibo", "4885639100630954"),
        ("https://m.weibo.cn/detail/4885639100630954", "weibo", "4885639100630954"),
        ("https://m.weibo.cn/status/4885639100630954?from=x", "weibo", "4885639100630954"),
        ("https://weibo.com/u/1195230310", "weibo", None),
        ("https://www.douyin.com/video/7441234567890123456", "douyin", "7441234567890123456"),
        (
            "https://www.xiaohongshu.com/discovery/item/6742a1b2000000001a01c0de",
            "xiaohongshu",
            "6742a1b2000000001a01c0de",
        ),
        ("https://zhuanlan.zhihu.com/p/123456", "forum", "zhihu-article-123456"),
        ("https://www.zhihu.com/pin/998877", "forum", "zhihu-pin-998877"),
        ("https://www.bilibili.com/video/BV1xx411c7mD/?p=2", "other", "bilibili-BV1xx411c7mD"),
        ("https://news.example.com/a/1", "news", None),
    ],
)
def test_external_id_from_url(url: str, platform: str, expected: str | None) -> None:
    assert external_id_from_url(url, platform) == expected


@pytest.mark.parametrize(
    ("url", "platform"),
    [
        ("https://weibo.com/1/", "weibo"),
        ("https://m.weibo.cn/detail/1", "weibo"),
        ("https://www.douyin.com/video/1", "douyin"),
        ("https://www.xiaohongshu.com/explore/x", "xiaohongshu"),
        ("https://mp.weixin.qq.com/s/abc", "wechat"),
        ("https://www.zhihu.com/question/1", "forum"),
        ("https://tieba.baidu.com/p/1", "forum"),
        ("https://www.bilibili.com/video/BV1", "other"),
        ("https://notweibo.com/1", None),
        ("https://weibo.com.evil.example/1", None),
        (None, None),
    ],
)
def test_platform_from_url(url: str | None, platform: str | None) -> None:
    assert platform_from_url(url) == platform


def test_configured_platform_is_used_when_links_say_nothing() -> None:
    rss = (
        b'<rss version="2.0"><channel><title>t</title><link>https://bbs.example.com/</link>'
        b"<item><title>\xe5\xb8\x96\xe5\xad\x90</title><guid>post-1</guid>"
        b"<pubDate>Tue, 24 Nov 2026 03:40:00 GMT</pubDate></item></channel></rss>"
    )
    result = parse_payload(rss, default_platform="forum", now=NOW)
    assert (result.items[0].platform, result.items[0].external_id) == ("forum", "post-1")
