"""Watch-topic rules: the query language, the multi-topic matcher, the sensitive-term library.

Pure Python (no Django import), so detection, the rule editor and the benchmark share it::

    from monitoring.rules import TopicMatcher, TopicSpec, parse_query

    matcher = TopicMatcher.build([TopicSpec(1, "烽火 (召回 OR 爆炸) NOT 演习")])
    matcher.match("烽火手机电池爆炸了", platform="weibo")   # -> [1]

See docs/topics-query-language.md for the language.
"""

from __future__ import annotations

from .matcher import TermHit, TopicExplanation, TopicMatcher, TopicSpec, explain, matches
from .normalize import fold
from .query import (
    ERROR_CODES,
    PLATFORMS,
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Term,
    normalize_platform,
    parse_query,
    terms_of,
    to_query_string,
)
from .terms import (
    CATEGORIES,
    SensitiveHit,
    SensitiveScan,
    SensitiveTermMatcher,
    SensitiveTermRow,
    default_terms,
    read_terms_csv,
    write_terms_csv,
)

__all__ = [
    "CATEGORIES",
    "ERROR_CODES",
    "PLATFORMS",
    "And",
    "Field",
    "Near",
    "Node",
    "Not",
    "Or",
    "QuerySyntaxError",
    "SensitiveHit",
    "SensitiveScan",
    "SensitiveTermMatcher",
    "SensitiveTermRow",
    "Term",
    "TermHit",
    "TopicExplanation",
    "TopicMatcher",
    "TopicSpec",
    "default_terms",
    "explain",
    "fold",
    "matches",
    "normalize_platform",
    "parse_query",
    "read_terms_csv",
    "terms_of",
    "to_query_string",
    "write_terms_csv",
]
