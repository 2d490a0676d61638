"""Platform codes and the other names they go by: the one definition.

The models' choices (``monitoring.models.PLATFORM_CHOICES``), the ingest normaliser (a
record's ``platform`` field) and the topic query language (``platform:微博``) all read it, so
a name accepted in one place is accepted in the others. Pure Python, no Django: the query
language and the ingest parsers work without Django configured.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# The order is the order of the choices in forms and charts.
PLATFORMS: Final[tuple[str, ...]] = (
    "weibo",
    "wechat",
    "douyin",
    "xiaohongshu",
    "news",
    "forum",
    "other",
)

# Other names for a platform, in the folded form ``platform_code`` compares (lower case).
PLATFORM_ALIASES: Final[dict[str, str]] = {
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

_CODES: Final = frozenset(PLATFORMS)


def platform_code(value: str) -> str | None:
    """The code of a platform code or alias in any case or width ("微博", "WeChat", "ｘｈｓ"),
    or None if it names no platform."""
    if value in _CODES:  # the common case, on every ingested record
        return value
    name = unicodedata.normalize("NFKC", value).strip().lower()
    name = PLATFORM_ALIASES.get(name, name)
    return name if name in _CODES else None
