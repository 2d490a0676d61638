"""Weibo-style text normalisation and sentiment features, shared by training and inference.

Training and inference must see exactly the same features, so every scorer in this package goes
through :func:`normalize` and :func:`features`; never re-implement them elsewhere. Changing
their behaviour changes what a trained model means: bump :data:`NORMALIZATION` and retrain.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "EMOJI_RE",
    "END_CHARS",
    "END_PREFIX",
    "NORMALIZATION",
    "char_ngrams",
    "features",
    "normalize",
    "own_words",
    "split_emoji",
]

# Recorded in the model header; the loader refuses a model trained under another value.
NORMALIZATION = "fenghuo-weibo-v2"

# Invisible characters: control codes, zero-width spaces/joiners, bidi marks, BOM. Weibo's API
# appends zero-width spaces to posts depending on the client; the training corpus shows they
# correlate with the crawl rather than with sentiment, so they must not become features.
_INVISIBLE_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
# Scraper markup such as {%#topic#%} or {%网页链接%}: inserted by collectors (link titles,
# video cards), not written by the author, so it is removed whole.
_MARKUP_RE = re.compile(r"\{%.*?%\}", re.S)
# URLs end at the first non-ASCII character because Weibo glues Chinese text to t.cn links.
_URL_RE = re.compile(r"(?:https?://|www\.)[\x21-\x7e]+", re.I)
# Weibo nicknames are 1-30 letters/digits/CJK/_/-; a following colon belongs to the mention.
_MENTION_RE = re.compile(r"@[\w\-]{1,30}\s?:?")
# Weibo/Douyin emoticon codes such as [怒] [泪] [笑cry] [小黄人无奈]; they carry strong sentiment.
EMOJI_RE = re.compile(r"\[[^\[\]\s]{1,8}\]")
_SPACE_RE = re.compile(r"\s+")
# What a client fills in when someone reposts without comment: not the reposter's words.
_EMPTY_REPOST = frozenset({"", "转发微博", "轉發微博", "repost", "转发", "分享"})

# Prefix of the "how the post ends" features. \x01 cannot survive normalisation, so these can
# never collide with an n-gram of real text.
END_PREFIX = "\x01"
END_CHARS = 8


def own_words(text: str) -> str:
    """Return the reposter's own words from a ``//@name: ...`` repost chain.

    The reposter's comment precedes the first ``//@``. A bare repost ("转发微博" or nothing)
    yields the nearest quoted comment instead, because that is what the reposter amplifies.
    Used for display and propagation; sentiment scores the whole visible text (see
    docs/sentiment.md for why).
    """
    if "//@" not in text:
        return text.strip()
    parts = text.split("//@")
    head = parts[0].strip()
    if head.lower() not in _EMPTY_REPOST:
        return head
    for part in parts[1:]:
        # Drop the quoted author's name up to the first colon (ASCII or full-width).
        _, sep, rest = part.partition(":")
        if not sep:
            _, sep, rest = part.partition("：")
        body = rest.strip() if sep else ""
        if body and body.lower() not in _EMPTY_REPOST:
            return body
    return head


def normalize(text: str) -> str:
    """Normalise a post for scoring.

    NFKC folds full-width latin/digits/punctuation to half-width (so ＥＴ７ == ET7); latin is
    lower-cased; invisible characters, URLs, @mentions (including the names in ``//@name:``
    repost chains) and scraper markup are removed; emoji codes like ``[怒]`` are kept verbatim.
    The ``//`` separators of a repost chain stay, so the quoted comments remain distinguishable
    from the reposter's own words that precede them.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE_RE.sub("", text)
    if "{%" in text:
        text = _MARKUP_RE.sub(" ", text)
    if "://" in text or "www." in text:
        text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _MENTION_RE.sub(" ", text)
    return _SPACE_RE.sub(" ", text).strip().lower()


def split_emoji(norm: str) -> tuple[str, list[str]]:
    """Split normalised text into (text with emoji codes blanked, emoji codes in order)."""
    if "[" not in norm:
        return norm, []
    codes = EMOJI_RE.findall(norm)
    if not codes:
        return norm, []
    return EMOJI_RE.sub(" ", norm), codes


def char_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """All character n-grams of ``text`` with ``lo <= n <= hi`` (n-grams may span spaces)."""
    size = len(text)
    return [text[i : i + n] for n in range(lo, hi + 1) for i in range(size - n + 1)]


def features(norm: str, lo: int = 1, hi: int = 3) -> list[str]:
    """Sentiment features of normalised text.

    * character n-grams (``lo``..``hi``) of the text with emoji codes blanked;
    * one token per emoji code (``[泪]``), so ``[笑cry]`` is weighed as the picture it is
      rather than as the letters c-r-y;
    * unigrams and bigrams of the last few characters, prefixed with :data:`END_PREFIX`:
      sentence-final particles and laughter (…吧, …哈哈, …了) shift the tone of a whole post.
    """
    plain, codes = split_emoji(norm)
    grams = char_ngrams(plain, lo, hi)
    if codes:
        grams.extend(codes)
    tail = plain.rstrip()[-END_CHARS:]
    size = len(tail)
    grams.extend([END_PREFIX + c for c in tail])
    grams.extend([END_PREFIX + tail[i : i + 2] for i in range(size - 1)])
    return grams
