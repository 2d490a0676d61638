"""Weibo-style repost chains: "my comment//@B: B's comment//@A: A's comment".

Weibo appends the chain of earlier reposters to the text. When a collector gives no
parent/root ids, the names in the chain are all we have to link a repost to the posts it
passed through: the first name is the direct parent, the last the root (or the last
reposter before the root, when the root's own text is not quoted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# "//@name:" with the variants seen in the wild: spaces around the pieces, a full-width
# colon or slash, "//@" written as "// @". Names are 1-30 chars of letters (any script),
# digits, "_" and "-", which is what Weibo allows in a nickname.
CHAIN_RE = re.compile(r"(?://|／／)\s*@([\w\-]{1,30})\s*[:：]")


@dataclass(frozen=True, slots=True)
class RepostChain:
    own_text: str
    chain: list[tuple[str, str]] = field(default_factory=list)

    @property
    def parent_name(self) -> str | None:
        return self.chain[0][0] if self.chain else None

    @property
    def root_name(self) -> str | None:
        return self.chain[-1][0] if self.chain else None

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.chain]


def parse_repost_chain(text: str) -> RepostChain:
    matches = list(CHAIN_RE.finditer(text))
    if not matches:
        return RepostChain(own_text=text.strip())
    chain = []
    ends = [match.start() for match in matches[1:]] + [len(text)]
    for match, end in zip(matches, ends, strict=True):
        chain.append((match.group(1), text[match.end() : end].strip()))
    return RepostChain(own_text=text[: matches[0].start()].strip(), chain=chain)


def strip_repost_chain(text: str) -> str:
    """The poster's own words only (cheaper than parse_repost_chain when names are unused)."""
    match = CHAIN_RE.search(text)
    return text if match is None else text[: match.start()]
