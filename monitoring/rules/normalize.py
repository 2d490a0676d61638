"""Text folding shared by the query parser, the topic matcher and the sensitive-term matcher.

Queries, terms and posts all go through :func:`fold`, so a term matches a post exactly when
its folded text is a substring of the folded post. Folding works one character at a time and
never turns one character into several: every position in a folded text is the position of
one character of the original, which keeps NEAR distances honest and lets ``explain`` map a
hit back to the original text for highlighting.

This is deliberately not ``monitoring.nlp.text.normalize``: that one strips URLs, @mentions
and repost chains for sentiment scoring, while a watch topic must still see "@品牌官方" or a
brand name inside a link title.
"""

from __future__ import annotations

import unicodedata

__all__ = ["IGNORABLE", "fold", "fold_char", "fold_with_offsets", "width_fold_char"]

# Zero-width and invisible characters: people put them inside sensitive words ("诈\u200b骗")
# to dodge keyword filters, so they are dropped rather than kept as part of a word.
IGNORABLE = frozenset("\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff")

# A hostile stream could show us every code point once; the cache stops growing here and
# further unseen characters are folded on each call instead.
_CACHE_LIMIT = 200_000


def width_fold_char(char: str) -> str:
    """Full-width to half-width (NFKC) for one character, without changing letter case.

    The query lexer needs this before it recognises operators: "ＡＮＤ" is the operator AND,
    "（" is a parenthesis. A character whose compatibility form is several characters
    ("…" -> "...", "ﬁ" -> "fi") is kept as it is, so the fold stays one-to-one.
    """
    if char in IGNORABLE:
        return ""
    if char.isspace():
        return " "
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 else char


def fold_char(char: str) -> str:
    """Fold one character for matching: NFKC width folding, then lower case.

    Returns "" for invisible characters and exactly one character otherwise. Applied until
    stable (a handful of characters need a second round), so ``fold`` is idempotent.
    """
    if char in IGNORABLE:
        return ""
    if char.isspace():
        return " "
    out = char
    for _ in range(3):
        width = unicodedata.normalize("NFKC", out)
        if len(width) != 1:
            break
        lower = width.lower()
        if len(lower) != 1:
            # "İ".lower() is two characters; keep the width-folded form instead.
            out = width
            break
        if lower == out:
            break
        out = lower
    return out


class _FoldTable(dict[int, int | None]):
    """A ``str.translate`` table filled lazily: the C loop only calls back for new characters."""

    def __missing__(self, code: int) -> int | None:
        folded = fold_char(chr(code))
        value = ord(folded) if folded else None
        if len(self) < _CACHE_LIMIT:
            self[code] = value
        return value


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Fold a whole text (see the module docstring); safe to call on folded text again."""
    return text.translate(_TABLE)


def fold_with_offsets(text: str) -> tuple[str, list[int] | None]:
    """Fold ``text`` and return a map from folded positions to original positions.

    The map is ``None`` when nothing was dropped, meaning positions are the same in both
    texts. Otherwise ``offsets[i]`` is the original index of folded character ``i``.
    """
    folded = fold(text)
    if len(folded) == len(text):
        return folded, None
    offsets = [i for i, char in enumerate(text) if _TABLE[ord(char)] is not None]
    return folded, offsets
