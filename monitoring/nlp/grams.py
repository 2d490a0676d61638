"""Vectorised n-gram lookup: character n-grams packed into 64-bit keys, and a hash table.

The ingest path scores thousands of posts per second. Building every n-gram of a post as a
Python string and looking each one up in a dict costs about as much as everything else the
worker does, most of it in creating the strings. This module does the same lookups on whole
batches with numpy instead:

* :func:`packed_grams` turns a batch of strings into the 64-bit keys of their character
  n-grams, with the index of the string each key came from. A key packs the code points of an
  n-gram side by side (``bits`` per code point); code point 0 means "no character", so it
  must never occur in the text (normalised text has no control characters) and keys of
  different lengths never collide.
* :class:`GramTable` maps such keys to float values: open addressing with linear probing in
  two flat arrays, probed for a whole batch of keys at once.

Both are exact: the sentiment scorer and the keyword extractor get exactly the n-grams and
weights the string-based definitions in :mod:`.text` and :mod:`.keywords` describe; the tests
compare the two on real posts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["GramTable", "code_points", "pack", "packed_grams"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def pack(gram: str, bits: int) -> int:
    """The key of one n-gram (as :func:`packed_grams` computes it); 0 if it does not fit."""
    key = 0
    for i, ch in enumerate(gram):
        code = ord(ch)
        if code == 0 or code >> bits or (i + 1) * bits > 64:
            return 0
        key |= code << (bits * i)
    return key


def code_points(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The texts joined by code point 0, as uint64 code points, and where each text starts.

    Three trailing zeros let callers read ``codes[i + k]`` for k < 4 without bounds checks.
    """
    joined = "\x00".join(texts) + "\x00\x00\x00"
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(
        np.uint64
    )
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts), dtype=np.int64)
    if len(texts) > 1:
        np.cumsum(lengths[:-1], out=starts[1:])
    return codes, starts


def packed_grams(
    codes: np.ndarray,
    lengths: Sequence[int],
    *,
    bits: int,
    valid: np.ndarray | None = None,
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Keys of the n-grams of joined code points, for each n in ``lengths``.

    ``codes`` comes from :func:`code_points`; ``valid``, when given, is a mask of the same
    length. A gram exists at position i when its n code points are all non-zero (and all
    ``valid``): so grams never cross
    from one text into the next. Returns ``[(n, positions, keys), ...]`` in the order of
    ``lengths``, positions ascending.
    """
    size = codes.size - 3
    ok = codes != 0
    if valid is not None:
        ok &= valid
    wanted = set(lengths)
    if not wanted or min(wanted) < 1 or max(wanted) > 4 or max(wanted) * bits > 64:
        raise ValueError("gram lengths must be 1-4 and fit in 64 bits")
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    key = np.zeros(size, dtype=np.uint64)
    run = np.ones(size, dtype=bool)
    for offset in range(max(wanted)):
        run &= ok[offset : offset + size]
        key |= codes[offset : offset + size] << np.uint64(bits * offset)
        if offset + 1 in wanted:
            positions = np.flatnonzero(run)
            found[offset + 1] = (positions, key[positions])
    return [(n, *found[n]) for n in lengths]


class GramTable:
    """uint64 key -> float, probed a whole array of keys at a time. Key 0 is reserved."""

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        values = np.asarray(values, dtype=np.float64)
        if keys.shape != values.shape:
            raise ValueError("keys and values differ in length")
        if keys.size and not keys.all():
            raise ValueError("key 0 is reserved for empty slots")
        if np.unique(keys).size != keys.size:
            raise ValueError("duplicate keys")
        # At most ~30% full, so a probe rarely needs a second step.
        self._bits = max(4, int(keys.size * 3).bit_length())
        self._mask = (1 << self._bits) - 1
        self._keys = np.zeros(1 << self._bits, dtype=np.uint64)
        self._values = np.zeros(1 << self._bits, dtype=np.float64)
        self._insert(keys, values)
        self.size = int(keys.size)

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * _GOLDEN) >> np.uint64(64 - self._bits)).astype(np.int64)

    def _insert(self, keys: np.ndarray, values: np.ndarray) -> None:
        slots = self._home(keys)
        while keys.size:
            free = np.flatnonzero(self._keys[slots] == 0)
            # Several keys may want the same free slot: the first of them takes it.
            _, first = np.unique(slots[free], return_index=True)
            placed = free[first]
            self._keys[slots[placed]] = keys[placed]
            self._values[slots[placed]] = values[placed]
            left = np.ones(keys.size, dtype=bool)
            left[placed] = False
            # Everyone else moves one slot on; every slot passed is occupied for good, which
            # is what lookup relies on (it stops at the first empty slot).
            keys, values = keys[left], values[left]
            slots = (slots[left] + 1) & self._mask

    def _find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in ``keys`` that are in the table, the slots holding them)."""
        found_at: list[np.ndarray] = []
        found_in: list[np.ndarray] = []
        pending = np.arange(keys.size)
        slots = self._home(keys)
        while pending.size:
            stored = self._keys[slots]
            hit = stored == keys
            found_at.append(pending[hit])
            found_in.append(slots[hit])
            # Probe on past other keys; an empty slot ends the search.
            more = ~hit & (stored != 0)
            pending, keys, slots = pending[more], keys[more], (slots[more] + 1) & self._mask
        if not found_at:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        return np.concatenate(found_at), np.concatenate(found_in)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key, 0.0 where a key is absent."""
        out = np.zeros(keys.size, dtype=np.float64)
        at, slots = self._find(keys)
        out[at] = self._values[slots]
        return out

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Boolean mask: which keys are in the table."""
        result = np.zeros(keys.size, dtype=bool)
        result[self._find(keys)[0]] = True
        return result

    def get(self, key: int) -> float:
        return float(self.lookup(np.array([key], dtype=np.uint64))[0])

    @property
    def nbytes(self) -> int:
        return int(self._keys.nbytes + self._values.nbytes)
