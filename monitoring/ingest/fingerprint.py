"""Near-duplicate (SimHash) and exact fingerprints of a post's own words.

Both are computed over a normalized form of the text: the //@name: repost chain, URLs
and @mentions removed, NFKC-folded, lower-cased, and reduced to letters and digits, so
that reposts of one rumour with different emoji, punctuation or spacing collide.

SimHash uses character bigrams: on post-length Chinese text they keep a one-character
edit closer than trigrams do while separating unrelated posts on the same topic about as
well (measurements in docs/ingest-formats.md). It runs for every mention, so the per-gram
work is vectorised with numpy: each UTF-16 code unit has a fixed pseudo-random 64-bit
value (splitmix64 of the code unit, so stable across processes, unlike hash()), a bigram
is the XOR of the first unit's value and the second's rotated, and the 64 bit columns are
counted in one pass.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .reposts import CHAIN_RE, strip_repost_chain

MASK64 = (1 << 64) - 1
# Hamming distance at or below which two texts count as near-duplicates; see
# docs/ingest-formats.md for the measurements behind it.
NEAR_DUPLICATE_DISTANCE = 6

_MAX_UNITS = 30_000
_URL_RE = re.compile(r"(?:https?|ftp)://[^\s]+|www\.[^\s]+", re.I)
_MENTION_RE = re.compile(r"@[\w\-]{1,30}")
_NON_WORD_RE = re.compile(r"[\W_]+")
# What Weibo fills in when someone reposts without writing anything.
_EMPTY_REPOST_TEXTS = frozenset({"", "转发微博", "轉發微博", "repost", "转发", "轉發"})


def _splitmix64(values: np.ndarray) -> np.ndarray:
    z = values.astype("<u8") + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _rotl(values: np.ndarray, bits: int) -> np.ndarray:
    return (values << np.uint64(bits)) | (values >> np.uint64(64 - bits))


_UNIT_HASH = _splitmix64(np.arange(1 << 16, dtype="<u8"))
_UNIT_HASH_ROTATED = _rotl(_UNIT_HASH, 29)


def normalize_for_fingerprint(text: str) -> str:
    """The normalized own text; falls back to the quoted chain for a comment-less repost."""
    own_text = strip_repost_chain(text)
    own = _normalize(own_text)
    if own in _EMPTY_REPOST_TEXTS:
        return _normalize(CHAIN_RE.sub(" ", text[len(own_text) :]))
    return own


def _normalize(text: str) -> str:
    if "//" in text or "www." in text:
        text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _MENTION_RE.sub(" ", text)
    text = _NON_WORD_RE.sub("", text)
    # NFKC after dropping punctuation: full-width punctuation is what makes most Chinese
    # text non-normalized, and normalizing only letters/digits is much cheaper.
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = _NON_WORD_RE.sub("", unicodedata.normalize("NFKC", text))
    return text.lower()


def simhash_normalized(normalized: str) -> int:
    """SimHash of an already normalized string (0 for an empty one)."""
    if not normalized:
        return 0
    # The cap keeps per-column counts inside uint16; posts are capped far below it anyway.
    units = np.frombuffer(normalized[:_MAX_UNITS].encode("utf-16-le"), dtype="<u2")
    if units.size < 2:
        units = np.concatenate((units, np.zeros(1, dtype="<u2")))
    grams = _UNIT_HASH.take(units[:-1]) ^ _UNIT_HASH_ROTATED.take(units[1:])
    bits = np.unpackbits(grams.view(np.uint8), bitorder="little").reshape(-1, 64)
    majority = np.add.reduce(bits, axis=0, dtype=np.uint16) * 2 > grams.size
    return int.from_bytes(np.packbits(majority, bitorder="little").tobytes(), "little")


def simhash_many(normalized: Sequence[str]) -> list[int]:
    """:func:`simhash_normalized` of each string, computed for the whole batch at once."""
    if not normalized:
        return []
    # Each text as UTF-16 units, padded to at least two units as simhash_normalized does,
    # followed by one separator position whose gram is dropped.
    parts = [t[:_MAX_UNITS] for t in normalized]
    encoded = [p.encode("utf-16-le") for p in parts]
    lengths = np.fromiter((max(len(e) // 2, 2) for e in encoded), dtype=np.int64)
    joined = b"".join(e if len(e) >= 4 else e + b"\0" * (4 - len(e)) for e in encoded)
    units = np.frombuffer(joined, dtype="<u2")
    ends = np.cumsum(lengths)
    starts = ends - lengths
    grams = _UNIT_HASH.take(units[:-1]) ^ _UNIT_HASH_ROTATED.take(units[1:])
    # Drop the gram that spans from one text into the next.
    keep = np.ones(grams.size, dtype=bool)
    keep[ends[:-1] - 1] = False
    grams = grams[keep]
    gram_starts = starts - np.arange(len(parts))
    bits = np.unpackbits(grams.view(np.uint8), bitorder="little").reshape(-1, 64)
    # uint16 holds every count: a text has at most _MAX_UNITS grams.
    counts = np.add.reduceat(bits, gram_starts, axis=0, dtype=np.uint16)
    majority = counts * 2 > (lengths - 1)[:, None]
    packed = np.packbits(majority, axis=1, bitorder="little")
    result = [int.from_bytes(row.tobytes(), "little") for row in packed]
    return [value if text else 0 for value, text in zip(result, normalized, strict=True)]


def simhash64(text: str) -> int:
    """Unsigned 64-bit SimHash of the text's own words (see module docstring)."""
    return simhash_normalized(normalize_for_fingerprint(text))


def text_fingerprint(text: str) -> str:
    """16 hex chars identifying the normalized text exactly, for cheap exact clustering."""
    return _exact(normalize_for_fingerprint(text))


def _exact(normalized: str) -> str:
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).hexdigest()


def hamming(a: int, b: int) -> int:
    """Differing bits; accepts signed or unsigned representations alike."""
    return ((a ^ b) & MASK64).bit_count()


def to_signed64(value: int) -> int:
    """Map an unsigned 64-bit value into PostgreSQL bigint range (same bits)."""
    value &= MASK64
    return value - (1 << 64) if value >= (1 << 63) else value


def from_signed64(value: int) -> int:
    return value & MASK64


def is_near_duplicate(a: int, b: int, *, max_distance: int = NEAR_DUPLICATE_DISTANCE) -> bool:
    return hamming(a, b) <= max_distance


@dataclass(frozen=True, slots=True)
class Fingerprint:
    simhash: int  # unsigned
    exact: str

    @property
    def simhash_signed(self) -> int:
        return to_signed64(self.simhash)


def fingerprint(text: str) -> Fingerprint:
    """Both fingerprints from one normalization pass (what the ingest pipeline should call)."""
    normalized = normalize_for_fingerprint(text)
    return Fingerprint(simhash=simhash_normalized(normalized), exact=_exact(normalized))


def fingerprint_many(texts: Sequence[str]) -> list[Fingerprint]:
    """:func:`fingerprint` of each text, the SimHashes computed for the batch at once."""
    normalized = [normalize_for_fingerprint(text) for text in texts]
    return [
        Fingerprint(simhash=simhash, exact=_exact(norm))
        for norm, simhash in zip(normalized, simhash_many(normalized), strict=True)
    ]
