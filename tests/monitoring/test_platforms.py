"""Platform codes and aliases have one definition (monitoring.platforms): the topic query
language and the ingest normaliser accept the same names and map them to the same code."""

from __future__ import annotations

import pytest

from monitoring.ingest.errors import ItemError
from monitoring.ingest.fields import clean_platform
from monitoring.platforms import PLATFORM_ALIASES, PLATFORMS, platform_code
from monitoring.rules import Field, parse_query
from monitoring.rules.query import normalize_platform

# Every name either side accepted before they shared one table (issue 11): the query
# language's table had 公众号, the ingest normaliser's did not.
NAMES_ACCEPTED_BEFORE = {
    "微博": "weibo",
    "sina": "weibo",
    "wb": "weibo",
    "微信": "wechat",
    "weixin": "wechat",
    "wx": "wechat",
    "公众号": "wechat",
    "抖音": "douyin",
    "dy": "douyin",
    "小红书": "xiaohongshu",
    "xhs": "xiaohongshu",
    "redbook": "xiaohongshu",
    "新闻": "news",
    "论坛": "forum",
    "其他": "other",
}


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _spellings() -> list[str]:
    names = [*PLATFORMS, *PLATFORM_ALIASES, *NAMES_ACCEPTED_BEFORE]
    return sorted({form for name in names for form in (name, name.upper(), _fullwidth(name))})


@pytest.mark.parametrize("name", _spellings())
def test_query_language_and_ingest_accept_the_same_platform_names(name: str) -> None:
    code = platform_code(name)
    assert code in PLATFORMS
    assert normalize_platform(name) == code
    assert clean_platform(name, "platform", default="other") == code
    assert parse_query(f"platform:{name}") == Field("platform", code)


def test_every_name_accepted_before_still_means_the_same_platform() -> None:
    for name, code in NAMES_ACCEPTED_BEFORE.items():
        assert platform_code(name) == code
        assert normalize_platform(name) == code
        assert clean_platform(f" {name.upper()} ", "platform", default="other") == code


@pytest.mark.parametrize("name", ["twitter", "微 博x", "weibo2", "平台"])
def test_unknown_names_are_refused_by_both(name: str) -> None:
    assert platform_code(name) is None
    assert normalize_platform(name) is None
    with pytest.raises(ItemError):
        clean_platform(name, "platform", default="other")


def test_the_model_choices_use_the_same_codes() -> None:
    from monitoring.models import PLATFORM_CHOICES

    assert tuple(code for code, _label in PLATFORM_CHOICES) == PLATFORMS
