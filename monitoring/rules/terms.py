"""The sensitive-term library (敏感词库): CSV import/export, the default set, a scanner.

CSV format (what PR staff edit in Excel): a header row naming the columns ``term``,
``category`` and ``weight`` (Chinese headers 敏感词/词语, 类别/分类, 权重 also work; column
order is free; other columns are ignored), then one term per row.

- Encoding: UTF-8 (with or without BOM), UTF-16 with BOM (Excel "Unicode text", tab
  separated), otherwise GB18030 (what Excel on Chinese Windows writes as "CSV").
- ``term``: folded like queries (full-width to half-width, lower case, invisible characters
  dropped), 1-100 characters. A row repeating an earlier term replaces it (the last row
  wins, at its own position) and the repetition is reported.
- ``category``: a code from ``categories`` (default :data:`CATEGORIES`) or its Chinese label
  (召回 -> recall). Unknown categories are errors, not new categories: a typo must not
  quietly create a category that no alert rule looks at. Callers that let users define
  categories pass their own set.
- ``weight``: a whole number 1-10, crisis severity (10 = act now).

Bad rows are skipped and reported as ``(line, message)``; the good rows are still returned,
so one bad line does not block an import of 200 terms.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

import ahocorasick

from .normalize import fold, fold_with_offsets

__all__ = [
    "CATEGORIES",
    "MAX_TERM_LENGTH",
    "SensitiveHit",
    "SensitiveScan",
    "SensitiveTermMatcher",
    "SensitiveTermRow",
    "default_terms",
    "read_terms_csv",
    "write_terms_csv",
]

# Category code -> Chinese label. Codes are stored; labels are accepted on import.
CATEGORIES: Final[dict[str, str]] = {
    "recall": "召回",
    "food_safety": "食品安全",
    "product_safety": "产品安全",
    "quality": "质量问题",
    "fraud": "欺诈",
    "rights_defense": "维权",
    "exposure": "曝光",
    "discrimination": "歧视",
    "labor": "劳工",
    "privacy": "隐私",
    "regulatory": "监管",
    "violence_accident": "事故伤亡",
    "public_opinion": "舆论抵制",
    "environment": "环境污染",
}
MAX_TERM_LENGTH: Final = 100
MIN_WEIGHT: Final = 1
MAX_WEIGHT: Final = 10

_HEADERS: Final[dict[str, str]] = {
    "term": "term",
    "敏感词": "term",
    "词语": "term",
    "关键词": "term",
    "category": "category",
    "类别": "category",
    "分类": "category",
    "weight": "weight",
    "权重": "weight",
}
# A cell starting with one of these is a formula to Excel ("=HYPERLINK(...)"): exported terms
# get a leading apostrophe, which Excel hides and the importer strips.
_FORMULA_START: Final = frozenset("=+-@\t\r'")


@dataclass(frozen=True)
class SensitiveTermRow:
    term: str
    category: str
    weight: int


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def read_terms_csv(
    data: bytes, *, categories: Mapping[str, str] | Iterable[str] = CATEGORIES
) -> tuple[list[SensitiveTermRow], list[tuple[int, str]]]:
    """Parse an uploaded term list; return the good rows and ``(line, message)`` errors."""
    known = dict(categories) if isinstance(categories, Mapping) else dict.fromkeys(categories, "")
    by_label = {label: code for code, label in known.items() if label}
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    errors: list[tuple[int, str]] = []
    header = next(reader, None)
    columns: dict[str, int] = {}
    for index, name in enumerate(header or []):
        canonical = _HEADERS.get(fold(name).strip())
        if canonical is not None:
            columns.setdefault(canonical, index)
    missing = [name for name in ("term", "category", "weight") if name not in columns]
    if missing:
        errors.append(
            (
                1,
                f"the first row must be a header with term,category,weight "
                f"(missing: {', '.join(missing)})",
            )
        )
        return [], errors

    rows: dict[str, SensitiveTermRow] = {}
    row_lines: dict[str, int] = {}
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            # A field over csv.field_size_limit (an unclosed quote swallowing the file):
            # report it and keep the rows read so far.
            errors.append((reader.line_num, f"unreadable CSV: {exc}"))
            break
        if cells is None:
            break
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        cells = cells + [""] * (max(columns.values()) + 1 - len(cells))
        raw_term = cells[columns["term"]].strip()
        if raw_term.startswith("'") and len(raw_term) > 1 and raw_term[1] in _FORMULA_START:
            raw_term = raw_term[1:]
        term = fold(raw_term).strip()
        raw_category = cells[columns["category"]].strip()
        category = fold(raw_category)
        category = category if category in known else by_label.get(raw_category, "")
        raw_weight = fold(cells[columns["weight"]]).strip()
        if not term:
            errors.append((line, "empty term"))
            continue
        if any(unicodedata.category(char) == "Cc" for char in term):
            errors.append((line, "term contains control characters"))
            continue
        if len(term) > MAX_TERM_LENGTH:
            errors.append((line, f"term is longer than {MAX_TERM_LENGTH} characters"))
            continue
        if not category:
            errors.append(
                (line, f"unknown category {raw_category!r} (known: {', '.join(sorted(known))})")
            )
            continue
        weight = _parse_weight(raw_weight)
        if weight is None:
            errors.append(
                (
                    line,
                    f"weight must be a whole number from {MIN_WEIGHT} to "
                    f"{MAX_WEIGHT}, got {raw_weight!r}",
                )
            )
            continue
        if term in rows:
            errors.append(
                (
                    line,
                    f"duplicate term {term!r} (also on line {row_lines[term]}); "
                    "the last one is kept",
                )
            )
            del rows[term]
        rows[term] = SensitiveTermRow(term, category, weight)
        row_lines[term] = line
    return list(rows.values()), errors


def _parse_weight(raw: str) -> int | None:
    # int() alone would accept "٣" and "1_0"; full-width digits were folded by the caller.
    if not raw.isascii() or not raw.isdigit() or len(raw) > 2:
        return None
    weight = int(raw)
    return weight if MIN_WEIGHT <= weight <= MAX_WEIGHT else None


def write_terms_csv(rows: Iterable[SensitiveTermRow]) -> bytes:
    """Export rows as UTF-8 CSV with a BOM (so Excel detects the encoding) and CRLF lines."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["term", "category", "weight"])
    for row in rows:
        term = "'" + row.term if row.term[:1] in _FORMULA_START else row.term
        writer.writerow([term, row.category, row.weight])
    # A lone surrogate cannot come from a decoded upload or PostgreSQL; "replace" keeps a
    # hand-built row with one from turning the export into a server error.
    return buffer.getvalue().encode("utf-8-sig", errors="replace")


@cache
def _default_rows() -> tuple[SensitiveTermRow, ...]:
    data = resources.files(__package__).joinpath("data/sensitive_terms_default.csv").read_bytes()
    rows, errors = read_terms_csv(data)
    if errors:
        raise ValueError(f"the default sensitive-term list has errors: {errors[:5]}")
    return tuple(rows)


def default_terms() -> list[SensitiveTermRow]:
    """The product's own starting library (``data/sensitive_terms_default.csv``)."""
    return list(_default_rows())


@dataclass(frozen=True)
class SensitiveHit:
    term: str
    category: str
    weight: int
    positions: tuple[tuple[int, int], ...]  # [start, end) spans in the ORIGINAL text


@dataclass(frozen=True)
class SensitiveScan:
    hits: tuple[SensitiveHit, ...]  # by first position
    score: int  # sum of the weights of the distinct terms found

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(hit.category for hit in self.hits)

    @property
    def max_weight(self) -> int:
        return max((hit.weight for hit in self.hits), default=0)


class SensitiveTermMatcher:
    """Scan texts for library terms with one Aho-Corasick automaton.

    An occurrence lying inside a longer term's occurrence is not counted: "暴力裁员" scores
    as itself, not as itself plus "裁员". Each distinct term adds its weight once however
    often it occurs, so repetition does not inflate the score.
    """

    def __init__(self, rows: Iterable[SensitiveTermRow]) -> None:
        self._rows: dict[str, SensitiveTermRow] = {}
        for row in rows:
            term = fold(row.term)
            if term:
                self._rows[term] = SensitiveTermRow(term, row.category, row.weight)
        self._automaton = None
        if self._rows:
            self._automaton = ahocorasick.Automaton()
            for term in self._rows:
                self._automaton.add_word(term, term)
            self._automaton.make_automaton()

    @classmethod
    def default(cls) -> SensitiveTermMatcher:
        return cls(_default_rows())

    def __len__(self) -> int:
        return len(self._rows)

    def scan(self, text: str) -> SensitiveScan:
        if self._automaton is None:
            return SensitiveScan((), 0)
        folded, offsets = fold_with_offsets(text)
        spans = [(end - len(term) + 1, end + 1, term) for end, term in self._automaton.iter(folded)]
        # Sorted by start, then the longer span first (for the same start the shorter one
        # ends earlier, so sort on -end); a span ending no later than the furthest end seen
        # so far lies inside an earlier, longer occurrence.
        spans.sort(key=lambda span: (span[0], -span[1]))
        positions: dict[str, list[tuple[int, int]]] = {}
        furthest = -1
        for start, end, term in spans:
            if end <= furthest:
                continue
            furthest = end
            if offsets is not None:
                start, end = offsets[start], offsets[end - 1] + 1
            positions.setdefault(term, []).append((start, end))
        hits = tuple(
            SensitiveHit(term, self._rows[term].category, self._rows[term].weight, tuple(found))
            for term, found in positions.items()
        )
        return SensitiveScan(hits, sum(hit.weight for hit in hits))
