"""Match posts against many watch topics at once.

All literal terms of all topics go into ONE Aho-Corasick automaton over folded text, so a post
is scanned once whatever the number of topics. Each topic's query is compiled to a closure
that only looks at the set of terms found (and, for NEAR, their positions). Only topics that
share a term with the post are evaluated, plus the few whose query can be true without any
term (``NOT 召回``, ``platform:weibo``), which keeps the per-post cost near the scan itself.

A built matcher is immutable and can be shared between threads. It is not picklable (the
compiled queries are closures): rebuild it in each process, it takes milliseconds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Final

import ahocorasick

from .normalize import fold, fold_with_offsets
from .query import (
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
)

__all__ = [
    "TermHit",
    "TopicExplanation",
    "TopicMatcher",
    "TopicSpec",
    "explain",
    "matches",
]

TopicId = int | str
_PLATFORM_CODES: Final = frozenset(PLATFORMS)
_second = itemgetter(1)


@dataclass(frozen=True)
class TopicSpec:
    """One watch topic as the matcher needs it.

    ``exclusions`` is a query too: a post matching it is dropped even if ``query`` matches.
    ``platforms`` limits the topic to these platform codes (aliases accepted); ``None`` or an
    empty set means every platform. A scoped topic never matches a post whose platform is
    unknown.
    """

    id: TopicId
    query: str | Node
    exclusions: str | Node | None = None
    platforms: frozenset[str] | None = None


@dataclass(frozen=True)
class TermHit:
    """One occurrence of a folded term, as a ``[start, end)`` span of the ORIGINAL text."""

    term: str
    start: int
    end: int


@dataclass(frozen=True)
class TopicExplanation:
    """Why a topic did or did not match one post (for the rule editor's preview)."""

    topic_id: TopicId
    matched: bool  # the verdict, the same as ``match()``
    query_matched: bool
    excluded: bool
    in_scope: bool
    hits: tuple[TermHit, ...]  # occurrences of the query's terms, by position
    exclusion_hits: tuple[TermHit, ...]  # occurrences of the exclusion query's terms


class _Post:
    """What a compiled query may look at for one post."""

    __slots__ = ("_positions", "author", "found", "hits", "lengths", "location", "platform")

    def __init__(
        self,
        found: list[tuple[int, int]],
        hits: set[int],
        lengths: Sequence[int],
        platform: str | None,
        author: str | None,
        location: str | None,
    ) -> None:
        self.found = found  # (index of the last character, term id), in text order
        self.hits = hits
        self.lengths = lengths
        self.platform = platform
        self.author = author
        self.location = location
        self._positions: dict[int, list[int]] | None = None

    def starts(self, term_id: int) -> list[int]:
        """Sorted start positions (in folded text) of a term; built on first use by NEAR."""
        if self._positions is None:
            positions: dict[int, list[int]] = {}
            lengths = self.lengths
            # The automaton reports matches by end position, so each list comes out sorted.
            for end, found_id in self.found:
                positions.setdefault(found_id, []).append(end - lengths[found_id] + 1)
            self._positions = positions
        return self._positions.get(term_id, [])

    def near(self, left: int, right: int, distance: int) -> bool:
        left_starts, right_starts = self.starts(left), self.starts(right)
        left_length, right_length = self.lengths[left], self.lengths[right]
        for start in left_starts:
            # gap = max(r - (start + left_length), start - (r + right_length)) <= distance
            low = start - right_length - distance
            high = start + left_length + distance
            first = bisect_left(right_starts, low)
            if left == right:
                # The same term: the occurrence itself is in the window, another one must be.
                if bisect_right(right_starts, high) - first >= 2:
                    return True
            elif first < len(right_starts) and right_starts[first] <= high:
                return True
        return False


_Predicate = Callable[[_Post], bool]


def _compile(node: Node, term_ids: dict[str, int]) -> _Predicate:
    if isinstance(node, Term):
        term_id = term_ids[node.text]
        return lambda post: term_id in post.hits
    if isinstance(node, Near):
        left, right, distance = term_ids[node.left.text], term_ids[node.right.text], node.distance
        return lambda post: (
            left in post.hits and right in post.hits and post.near(left, right, distance)
        )
    if isinstance(node, Field):
        value = node.value
        if node.name == "platform":
            return lambda post: post.platform == value
        if node.name == "author":
            return lambda post: post.author is not None and value in post.author
        return lambda post: post.location is not None and value in post.location
    if isinstance(node, Not):
        inner = _compile(node.item, term_ids)
        return lambda post: not inner(post)
    if isinstance(node, And | Or):
        # Plain terms become one set operation in C: a brand query is typically an OR of a
        # dozen names and crisis words, and a Python call per term dominated the profile.
        ids = frozenset(term_ids[item.text] for item in node.items if isinstance(item, Term))
        rest = [_compile(item, term_ids) for item in node.items if not isinstance(item, Term)]
        if ids:
            if isinstance(node, And):
                rest.insert(0, lambda post: ids <= post.hits)
            else:
                rest.insert(0, lambda post: not ids.isdisjoint(post.hits))
        parts = tuple(rest)
        if len(parts) == 1:
            return parts[0]
        if isinstance(node, And):
            if len(parts) == 2:
                first, second = parts
                return lambda post: first(post) and second(post)
            return lambda post: all(part(post) for part in parts)
        if len(parts) == 2:
            first, second = parts
            return lambda post: first(post) or second(post)
        return lambda post: any(part(post) for part in parts)
    raise TypeError(f"not a query node: {node!r}")


def _needs_term(node: Node) -> bool:
    """True if the query is false whenever none of its terms occur in the text.

    Conservative (NOT and fields count as "maybe true"): a topic for which this is False is
    evaluated for every post, the others only for posts containing one of their terms.
    """
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, And):
        return any(_needs_term(item) for item in node.items)
    if isinstance(node, Or):
        return all(_needs_term(item) for item in node.items)
    return False


def _as_node(query: str | Node) -> Node:
    return parse_query(query) if isinstance(query, str) else query


@dataclass(frozen=True)
class _Topic:
    id: TopicId
    query: _Predicate
    exclusions: _Predicate | None
    platforms: frozenset[str] | None
    query_terms: tuple[int, ...]
    exclusion_terms: tuple[int, ...]


class TopicMatcher:
    """Many compiled topics behind one automaton. Create with :meth:`build`."""

    def __init__(
        self,
        topics: list[_Topic],
        terms: list[str],
        automaton: Any,
        term_topics: list[tuple[int, ...]],
        always: tuple[int, ...],
        errors: list[tuple[TopicId, ValueError]],
    ) -> None:
        self._topics = topics
        self._automaton = automaton
        self._lengths = tuple(len(term) for term in terms)
        self._term_topics = term_topics
        self._always = frozenset(always)
        self.terms: tuple[str, ...] = tuple(terms)
        self.topic_ids: tuple[TopicId, ...] = tuple(topic.id for topic in topics)
        self.errors: tuple[tuple[TopicId, ValueError], ...] = tuple(errors)

    @classmethod
    def build(cls, topics: Iterable[TopicSpec], *, skip_invalid: bool = False) -> TopicMatcher:
        """Compile topics into one matcher.

        A query that does not parse raises :class:`QuerySyntaxError` (an unknown platform in
        ``platforms`` or a duplicate id, ``ValueError``), unless ``skip_invalid``: then the
        topic is left out and listed in ``errors`` as ``(id, exception)``, so one broken
        rule cannot stop detection for all the others.
        """
        compiled: list[_Topic] = []
        errors: list[tuple[TopicId, ValueError]] = []
        term_ids: dict[str, int] = {}
        term_topics: list[list[int]] = []
        always: list[int] = []
        seen_ids: set[TopicId] = set()
        for spec in topics:
            try:
                if spec.id in seen_ids:
                    raise ValueError(f"duplicate topic id {spec.id!r}")
                query = _as_node(spec.query)
                exclusions = None if spec.exclusions is None else _as_node(spec.exclusions)
                platforms = _platform_scope(spec.platforms)
            except (QuerySyntaxError, ValueError) as exc:
                if not skip_invalid:
                    raise
                errors.append((spec.id, exc))
                continue
            seen_ids.add(spec.id)
            index = len(compiled)
            query_terms = _register(terms_of(query), term_ids, term_topics)
            exclusion_terms = (
                () if exclusions is None else _register(terms_of(exclusions), term_ids, term_topics)
            )
            for term_id in query_terms:
                term_topics[term_id].append(index)
            if not _needs_term(query):
                always.append(index)
            compiled.append(
                _Topic(
                    id=spec.id,
                    query=_compile(query, term_ids),
                    exclusions=None if exclusions is None else _compile(exclusions, term_ids),
                    platforms=platforms,
                    query_terms=query_terms,
                    exclusion_terms=exclusion_terms,
                )
            )
        terms = list(term_ids)
        automaton = None
        if terms:
            automaton = ahocorasick.Automaton()
            for term, term_id in term_ids.items():
                automaton.add_word(term, term_id)
            automaton.make_automaton()
        return cls(
            compiled,
            terms,
            automaton,
            [tuple(indexes) for indexes in term_topics],
            tuple(always),
            errors,
        )

    def __len__(self) -> int:
        return len(self._topics)

    def _scan(self, folded: str) -> tuple[list[tuple[int, int]], set[int]]:
        found = list(self._automaton.iter(folded)) if self._automaton is not None else []
        return found, set(map(_second, found))

    def _post(
        self,
        found: list[tuple[int, int]],
        hits: set[int],
        platform: str | None,
        author: str | None,
        location: str | None,
    ) -> _Post:
        if platform is not None and platform not in _PLATFORM_CODES:
            platform = normalize_platform(platform)
        return _Post(
            found,
            hits,
            self._lengths,
            platform,
            None if author is None else fold(author),
            None if location is None else fold(location),
        )

    def match(
        self,
        text: str,
        *,
        platform: str | None = None,
        author: str | None = None,
        location: str | None = None,
    ) -> list[TopicId]:
        """Ids of the topics matching this post, in the order the topics were given."""
        found, hits = self._scan(fold(text))
        candidates = set(self._always)
        term_topics = self._term_topics
        for term_id in hits:
            candidates.update(term_topics[term_id])
        if not candidates:
            return []
        post = self._post(found, hits, platform, author, location)
        out: list[TopicId] = []
        topics = self._topics
        for index in sorted(candidates):
            topic = topics[index]
            if topic.platforms is not None and post.platform not in topic.platforms:
                continue
            if not topic.query(post):
                continue
            if topic.exclusions is not None and topic.exclusions(post):
                continue
            out.append(topic.id)
        return out

    def explain(
        self,
        text: str,
        *,
        platform: str | None = None,
        author: str | None = None,
        location: str | None = None,
    ) -> list[TopicExplanation]:
        """One explanation per topic, in build order, with hits mapped to ``text`` positions.

        Slower than :meth:`match` (it evaluates every topic and maps positions); meant for
        previews and "why did this match" pages, not for the stream.
        """
        folded, offsets = fold_with_offsets(text)
        post = self._post(*self._scan(folded), platform, author, location)

        def hits_of(term_ids: tuple[int, ...]) -> tuple[TermHit, ...]:
            out: list[TermHit] = []
            for term_id in term_ids:
                length = self._lengths[term_id]
                for start in post.starts(term_id):
                    end = start + length
                    if offsets is not None:
                        start, end = offsets[start], offsets[end - 1] + 1
                    out.append(TermHit(self.terms[term_id], start, end))
            out.sort(key=lambda hit: (hit.start, -hit.end, hit.term))
            return tuple(out)

        explanations = []
        for topic in self._topics:
            in_scope = topic.platforms is None or post.platform in topic.platforms
            query_matched = topic.query(post)
            excluded = topic.exclusions is not None and topic.exclusions(post)
            explanations.append(
                TopicExplanation(
                    topic_id=topic.id,
                    matched=in_scope and query_matched and not excluded,
                    query_matched=query_matched,
                    excluded=excluded,
                    in_scope=in_scope,
                    hits=hits_of(topic.query_terms),
                    exclusion_hits=hits_of(topic.exclusion_terms),
                )
            )
        return explanations


def _register(
    terms: list[str], term_ids: dict[str, int], term_topics: list[list[int]]
) -> tuple[int, ...]:
    ids = []
    for term in terms:
        term_id = term_ids.get(term)
        if term_id is None:
            term_id = term_ids[term] = len(term_ids)
            term_topics.append([])
        ids.append(term_id)
    return tuple(ids)


def _platform_scope(platforms: Iterable[str] | None) -> frozenset[str] | None:
    if not platforms:
        return None
    codes = set()
    for value in platforms:
        code = normalize_platform(value)
        if code is None:
            raise ValueError(f"unknown platform {value!r}")
        codes.add(code)
    return frozenset(codes)


def matches(
    query: str | Node,
    text: str,
    *,
    exclusions: str | Node | None = None,
    platform: str | None = None,
    author: str | None = None,
    location: str | None = None,
) -> bool:
    """Whether one query matches one post (the editor's live preview).

    Raises :class:`QuerySyntaxError` for a query that does not parse.
    """
    matcher = TopicMatcher.build([TopicSpec(0, query, exclusions)])
    return bool(matcher.match(text, platform=platform, author=author, location=location))


def explain(
    query: str | Node,
    text: str,
    *,
    exclusions: str | Node | None = None,
    platform: str | None = None,
    author: str | None = None,
    location: str | None = None,
) -> TopicExplanation:
    """:meth:`TopicMatcher.explain` for a single query; ``topic_id`` is 0."""
    matcher = TopicMatcher.build([TopicSpec(0, query, exclusions)])
    return matcher.explain(text, platform=platform, author=author, location=location)[0]
