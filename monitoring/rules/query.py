"""The watch-topic query language: lexer, parser, AST and canonical printer.

Grammar and semantics are documented for users in ``docs/topics-query-language.md``; this
module is the reference. In short (lowest to highest precedence)::

    query     = or_expr
    or_expr   = and_expr { OR and_expr }
    and_expr  = near_expr { [ AND ] near_expr }      (a space is an implicit AND)
    near_expr = unary [ NEAR/n unary ]               (both sides must be terms or phrases)
    unary     = NOT unary | primary
    primary   = "(" or_expr ")" | field | term
    field     = name ":" ( word | phrase )
    term      = word | phrase

Every node is a frozen dataclass whose constructor normalises its input (folds text, flattens
nested And/Or, maps platform aliases to codes), so two queries that mean the same up to
spelling compare equal, and ``parse_query(to_query_string(node)) == node`` for every node.

Nothing here imports Django: the rule editor, detection and the benchmark all use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

from monitoring.platforms import PLATFORM_ALIASES, PLATFORMS, platform_code

from .normalize import fold, width_fold_char

__all__ = [
    "ERROR_CODES",
    "FIELD_NAMES",
    "MAX_NEAR_DISTANCE",
    "MAX_QUERY_LENGTH",
    "PLATFORMS",
    "PLATFORM_ALIASES",
    "And",
    "Field",
    "Near",
    "Node",
    "Not",
    "Or",
    "QuerySyntaxError",
    "Term",
    "normalize_platform",
    "parse_query",
    "terms_of",
    "to_query_string",
]

# Canonical field names and the spellings accepted for them (folded).
FIELD_NAMES: Final = ("platform", "author", "location")
_FIELD_ALIASES: Final[dict[str, str]] = {
    "platform": "platform",
    "平台": "platform",
    "author": "author",
    "作者": "author",
    "location": "location",
    "地区": "location",
    "地点": "location",
}

MAX_NEAR_DISTANCE: Final = 1000
# Long enough for any hand-written rule; bounds parse time and recursion for pasted junk.
MAX_QUERY_LENGTH: Final = 4000
_MAX_DEPTH: Final = 64

# Operators are recognised only as whole words, in upper case (after full-width folding), so
# lower-case "and" or "not" is an ordinary search term. The Chinese aliases have no case,
# so a lone 且 / 或 / 非 is always an operator: search for it as a phrase ("或").
_AND_WORDS: Final = frozenset({"AND", "且"})
_OR_WORDS: Final = frozenset({"OR", "或"})
_NOT_WORDS: Final = frozenset({"NOT", "非"})
# Folded terms are lower case, so only the caseless aliases can collide with an operator.
_OPERATOR_TERMS: Final = frozenset({"且", "或", "非"})

_QUOTE_PAIRS: Final[dict[str, str]] = {'"': '"', "“": "”", "「": "」", "『": "』"}
_CLOSING_QUOTES: Final = frozenset("”」』")
_QUOTE_CHARS: Final = frozenset(_QUOTE_PAIRS) | _CLOSING_QUOTES
# Characters that end a bare word; a term containing any of them must be quoted.
_WORD_BREAKS: Final = frozenset("():") | _QUOTE_CHARS
_VALUE_BREAKS: Final = frozenset("()") | _QUOTE_CHARS
_NEAR_RE: Final = re.compile(r"NEAR/([0-9]+)")

# Stable error codes with their English message templates; the UI translates by code and
# fills the same ``params`` (``QuerySyntaxError.params``).
ERROR_CODES: Final[dict[str, str]] = {
    "empty_query": "empty query",
    "query_too_long": "the query is longer than {limit} characters",
    "too_deep": "too many nested parentheses or NOTs",
    "unbalanced_paren": "unbalanced parenthesis",
    "empty_parens": "empty parentheses",
    "unterminated_quote": "unterminated quote",
    "unmatched_quote": "closing quote without an opening quote",
    "empty_phrase": "empty phrase",
    "unknown_field": "unknown field '{field}' (quote the term to search for a colon)",
    "missing_field_value": "expected a value after {field}:",
    "unknown_platform": "unknown platform '{value}'",
    "stray_colon": "a colon must follow a field name, like platform:weibo",
    "near_number": "NEAR needs a number, like NEAR/5",
    "near_range": "NEAR distance must be between 1 and {limit}",
    "near_operand": "NEAR/{distance} must stand between two terms or phrases",
    "near_chain": "NEAR cannot be chained; join NEAR groups with AND",
    "missing_operand": "expected a term after {operator}",
    "missing_left_operand": "expected a term before {operator}",
}


class QuerySyntaxError(ValueError):
    """A query that does not parse.

    ``position`` and ``length`` are 0-based character offsets into the original query
    string (before any folding), for highlighting; ``code`` is a key of ``ERROR_CODES``.
    """

    def __init__(
        self,
        message: str,
        position: int,
        length: int = 1,
        code: str = "syntax",
        params: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.length = length
        self.code = code
        self.params = dict(params or {})

    def __str__(self) -> str:
        return f"{self.message} (at character {self.position})"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the API and the editor."""
        return {
            "code": self.code,
            "message": self.message,
            "position": self.position,
            "length": self.length,
            "params": dict(self.params),
        }


def _error(code: str, position: int, length: int, **params: str) -> QuerySyntaxError:
    return QuerySyntaxError(ERROR_CODES[code].format(**params), position, length, code, params)


def normalize_platform(value: str) -> str | None:
    """A platform code for a code or alias ("微博", "WeChat", "xhs"), or None if unknown."""
    return platform_code(fold(value))


# --- AST -----------------------------------------------------------------------------------


def _bare_term_ok(text: str) -> bool:
    """Whether a folded term can be written without quotes and read back unchanged."""
    return (
        bool(text)
        and text not in _OPERATOR_TERMS
        and not any(char.isspace() or char in _WORD_BREAKS for char in text)
    )


def _bare_value_ok(text: str) -> bool:
    """Whether a folded field value can be written without quotes (colons are fine here)."""
    return bool(text) and not any(char.isspace() or char in _VALUE_BREAKS for char in text)


@dataclass(frozen=True)
class Term:
    """A literal searched as a substring of the post. ``text`` is stored folded.

    ``phrase`` records that the user quoted it; it does not change what matches. A text that
    cannot be written bare (spaces, parentheses, quotes, colons, a lone 或) is always a phrase.
    """

    text: str
    phrase: bool = False

    def __post_init__(self) -> None:
        text = fold(self.text)
        if not text:
            raise ValueError("a term cannot be empty")
        object.__setattr__(self, "text", text)
        if not self.phrase and not _bare_term_ok(text):
            object.__setattr__(self, "phrase", True)


@dataclass(frozen=True)
class Field:
    """A filter on post metadata: ``platform`` (exact code), ``author`` or ``location``
    (substring of the folded value)."""

    name: str
    value: str

    def __post_init__(self) -> None:
        name = _FIELD_ALIASES.get(fold(self.name))
        if name is None:
            raise ValueError(f"unknown field {self.name!r}")
        value = fold(self.value)
        if name == "platform":
            code = normalize_platform(value)
            if code is None:
                raise ValueError(f"unknown platform {self.value!r}")
            value = code
        if not value:
            raise ValueError("a field value cannot be empty")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "value", value)


@dataclass(frozen=True)
class Not:
    item: Node


def _flatten(kind: type[And] | type[Or], items: Iterable[Node]) -> tuple[Node, ...]:
    out: list[Node] = []
    for item in items:
        if isinstance(item, kind):
            out.extend(item.items)
        else:
            out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class And:
    """All items must match. Nested Ands are flattened, so ``a (b c)`` equals ``a b c``."""

    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        items = _flatten(And, tuple(self.items))
        if len(items) < 2:
            raise ValueError("And needs at least two items")
        object.__setattr__(self, "items", items)


@dataclass(frozen=True)
class Or:
    """Any item must match. Nested Ors are flattened."""

    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        items = _flatten(Or, tuple(self.items))
        if len(items) < 2:
            raise ValueError("Or needs at least two items")
        object.__setattr__(self, "items", items)


@dataclass(frozen=True)
class Near:
    """Some occurrence of ``left`` and of ``right`` are at most ``distance`` characters apart,
    in either order. The distance is the gap between the end of the earlier occurrence and the
    start of the later one (touching = 0; overlapping occurrences count as near)."""

    left: Term
    right: Term
    distance: int

    def __post_init__(self) -> None:
        if not isinstance(self.left, Term) or not isinstance(self.right, Term):
            raise ValueError("NEAR joins two terms")
        if not 0 < self.distance <= MAX_NEAR_DISTANCE:
            raise ValueError(f"NEAR distance must be between 1 and {MAX_NEAR_DISTANCE}")


Node: TypeAlias = Term | Field | Not | And | Or | Near


def terms_of(node: Node) -> list[str]:
    """The folded literal terms of a query, each once, in the order they appear.

    Field values are not included: they are compared with post metadata, not the text.
    Terms under NOT are included (the matcher needs to find them too).
    """
    seen: dict[str, None] = {}
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Term):
            seen.setdefault(current.text, None)
        elif isinstance(current, Near):
            stack.extend((current.right, current.left))
        elif isinstance(current, Not):
            stack.append(current.item)
        elif isinstance(current, And | Or):
            stack.extend(reversed(current.items))
    return list(seen)


# --- Lexer -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # word, phrase, field, lparen, rparen, and, or, not, near, end
    text: str  # the word / phrase content / field name (width-folded, case kept)
    start: int  # span in the ORIGINAL query
    end: int
    value: str = ""  # field value (platform values already mapped to a code)
    distance: int = 0


class _Lexer:
    def __init__(self, query: str) -> None:
        # Width-fold first so that full-width operators, parentheses and colons work; keep
        # where each folded character came from, because errors point into the original.
        chars: list[str] = []
        self.origin: list[int] = []
        for index, char in enumerate(query):
            folded = width_fold_char(char)
            if folded:
                chars.append(folded)
                self.origin.append(index)
        self.text = "".join(chars)
        self.origin.append(len(query))
        self.pos = 0

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original (position, length) of the folded span [start, end)."""
        first = self.origin[start]
        last = self.origin[end - 1] + 1 if end > start else first
        return first, last - first

    def error(self, code: str, start: int, end: int, **params: str) -> QuerySyntaxError:
        position, length = self.span(start, end)
        return _error(code, position, length, **params)

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        text = self.text
        while True:
            while self.pos < len(text) and text[self.pos] == " ":
                self.pos += 1
            if self.pos >= len(text):
                end = self.origin[-1]
                out.append(_Token("end", "", end, end))
                return out
            out.append(self.next_token())

    def next_token(self) -> _Token:
        text, start = self.text, self.pos
        char = text[start]
        if char in "()":
            self.pos += 1
            return self.token("lparen" if char == "(" else "rparen", char, start, self.pos)
        if char in _QUOTE_PAIRS:
            content, end = self.phrase(start)
            return self.token("phrase", content, start, end)
        if char in _CLOSING_QUOTES:
            raise self.error("unmatched_quote", start, start + 1)
        if char == ":":
            raise self.error("stray_colon", start, start + 1)
        end = start
        while end < len(text) and text[end] != " " and text[end] not in _WORD_BREAKS:
            end += 1
        word = text[start:end]
        self.pos = end
        if end < len(text) and text[end] == ":":
            return self.field(word, start, end)
        if word in _AND_WORDS:
            return self.token("and", word, start, end)
        if word in _OR_WORDS:
            return self.token("or", word, start, end)
        if word in _NOT_WORDS:
            return self.token("not", word, start, end)
        if word == "NEAR" or word.startswith("NEAR/"):
            match = _NEAR_RE.fullmatch(word)
            if match is None:
                raise self.error("near_number", start, end)
            digits = match.group(1).lstrip("0") or "0"
            # Check the length first: int() refuses digit strings of thousands of characters.
            distance = int(digits) if len(digits) <= 4 else MAX_NEAR_DISTANCE + 1
            if not 0 < distance <= MAX_NEAR_DISTANCE:
                raise self.error("near_range", start, end, limit=str(MAX_NEAR_DISTANCE))
            return self.token("near", word, start, end, distance=distance)
        return self.token("word", word, start, end)

    def token(self, kind: str, text: str, start: int, end: int, distance: int = 0) -> _Token:
        position, length = self.span(start, end)
        return _Token(kind, text, position, position + length, distance=distance)

    def phrase(self, start: int) -> tuple[str, int]:
        """Read a quoted phrase opening at ``start``; backslash escapes the next character."""
        text = self.text
        closer = _QUOTE_PAIRS[text[start]]
        out: list[str] = []
        index = start + 1
        while index < len(text):
            char = text[index]
            if char == "\\" and index + 1 < len(text):
                out.append(text[index + 1])
                index += 2
                continue
            if char == closer:
                self.pos = index + 1
                return "".join(out), self.pos
            out.append(char)
            index += 1
        raise self.error("unterminated_quote", start, start + 1)

    def field(self, raw_name: str, start: int, colon: int) -> _Token:
        text = self.text
        if not raw_name:
            raise self.error("stray_colon", colon, colon + 1)
        name = _FIELD_ALIASES.get(fold(raw_name))
        if name is None:
            raise self.error("unknown_field", start, colon, field=raw_name)
        value_start = colon + 1
        if value_start < len(text) and text[value_start] in _QUOTE_PAIRS:
            value, value_end = self.phrase(value_start)
        elif value_start < len(text) and text[value_start] in _CLOSING_QUOTES:
            raise self.error("unmatched_quote", value_start, value_start + 1)
        else:
            value_end = value_start
            while (
                value_end < len(text)
                and text[value_end] != " "
                and text[value_end] not in _VALUE_BREAKS
            ):
                value_end += 1
            value = text[value_start:value_end]
            self.pos = value_end
        if not fold(value):
            raise self.error("missing_field_value", start, value_end, field=name)
        if name == "platform":
            code = normalize_platform(value)
            if code is None:
                raise self.error("unknown_platform", value_start, value_end, value=value)
            value = code
        position, length = self.span(start, value_end)
        return _Token("field", name, position, position + length, value=value)


# --- Parser ----------------------------------------------------------------------------------

_UNARY_START: Final = frozenset({"word", "phrase", "field", "lparen", "not"})


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.or_expr()
        token = self.current
        if token.kind == "rparen":
            raise _error("unbalanced_paren", token.start, 1)
        if token.kind != "end":  # defensive: and_expr/near_expr consume everything else
            raise _error(
                "missing_left_operand", token.start, token.end - token.start, operator=token.text
            )
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.current.kind == "or":
            operator = self.advance()
            items.append(self.operand_after(operator, self.and_expr))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.near_expr()]
        while True:
            token = self.current
            if token.kind == "and":
                self.advance()
                items.append(self.operand_after(token, self.near_expr))
            elif token.kind in _UNARY_START:
                items.append(self.near_expr())
            else:
                break
        return items[0] if len(items) == 1 else And(tuple(items))

    def near_expr(self) -> Node:
        left_from = self.index
        left = self.unary()
        if self.current.kind != "near":
            return left
        left_to = self.index
        operator = self.advance()
        right_from = self.index
        right = self.operand_after(operator, self.unary)
        if not isinstance(left, Term) or not isinstance(right, Term):
            # Highlight the whole offending operand, e.g. "NOT a" in "NOT a NEAR/5 b".
            first, last = (
                (left_from, left_to) if not isinstance(left, Term) else (right_from, self.index)
            )
            start, end = self.tokens[first].start, self.tokens[last - 1].end
            raise _error("near_operand", start, end - start, distance=str(operator.distance))
        if self.current.kind == "near":
            token = self.current
            raise _error("near_chain", token.start, token.end - token.start)
        return Near(left, right, operator.distance)

    def operand_after(self, operator: _Token, parse: Callable[[], Node]) -> Node:
        if self.current.kind not in _UNARY_START:
            raise _error(
                "missing_operand",
                operator.start,
                operator.end - operator.start,
                operator=operator.text,
            )
        return parse()

    def unary(self) -> Node:
        token = self.current
        if token.kind == "not":
            self.advance()
            self.enter(token)
            item = self.operand_after(token, self.unary)
            self.depth -= 1
            return Not(item)
        return self.primary()

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _error("too_deep", token.start, token.end - token.start)

    def primary(self) -> Node:
        token = self.advance()
        if token.kind == "word":
            return Term(token.text)
        if token.kind == "phrase":
            if not fold(token.text):
                raise _error("empty_phrase", token.start, token.end - token.start)
            return Term(token.text, phrase=True)
        if token.kind == "field":
            return Field(token.text, token.value)
        if token.kind == "lparen":
            if self.current.kind == "rparen":
                close = self.current
                raise _error("empty_parens", token.start, close.end - token.start)
            self.enter(token)
            node = self.or_expr()
            self.depth -= 1
            if self.current.kind != "rparen":
                raise _error("unbalanced_paren", token.start, 1)
            self.advance()
            return node
        if token.kind == "rparen":
            raise _error("unbalanced_paren", token.start, 1)
        # An operator where a term should start: "OR a", "a AND OR b" is caught earlier.
        raise _error(
            "missing_left_operand", token.start, token.end - token.start, operator=token.text
        )


def parse_query(text: str) -> Node:
    """Parse a watch-topic query; raise :class:`QuerySyntaxError` if it is not valid."""
    if len(text) > MAX_QUERY_LENGTH:
        raise _error(
            "query_too_long",
            MAX_QUERY_LENGTH,
            len(text) - MAX_QUERY_LENGTH,
            limit=str(MAX_QUERY_LENGTH),
        )
    tokens = _Lexer(text).tokens()
    if tokens[0].kind == "end":
        raise _error("empty_query", 0, len(text))
    return _Parser(tokens).parse()


# --- Canonical printer -------------------------------------------------------------------------

_PRECEDENCE: Final[dict[type, int]] = {Or: 1, And: 2, Near: 3, Not: 4, Term: 5, Field: 5}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_query_string(node: Node) -> str:
    """The canonical spelling of a query: explicit AND/OR, upper-case operators, ASCII quotes,
    parentheses only where precedence needs them. ``parse_query`` reads it back to ``node``."""
    return _print(node)


def _print(node: Node) -> str:
    if isinstance(node, Term):
        return _quote(node.text) if node.phrase else node.text
    if isinstance(node, Field):
        value = node.value if _bare_value_ok(node.value) else _quote(node.value)
        return f"{node.name}:{value}"
    if isinstance(node, Not):
        return "NOT " + _child(node.item, _PRECEDENCE[Not])
    if isinstance(node, Near):
        return f"{_print(node.left)} NEAR/{node.distance} {_print(node.right)}"
    if isinstance(node, And):
        return " AND ".join(_child(item, _PRECEDENCE[And]) for item in node.items)
    if isinstance(node, Or):
        return " OR ".join(_child(item, _PRECEDENCE[Or]) for item in node.items)
    raise TypeError(f"not a query node: {node!r}")


def _child(node: Node, minimum: int) -> str:
    text = _print(node)
    # And/Or children of the same kind cannot occur (flattened), so strictly lower binds less.
    return f"({text})" if _PRECEDENCE[type(node)] < minimum else text
