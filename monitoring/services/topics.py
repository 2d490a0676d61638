"""Watch topics, the sensitive-term library, and the compiled matcher of both.

Every process keeps one compiled ``TopicMatcher`` of the enabled topics and one matcher of
the term library (``compiled_rules``); two aggregate queries tell whether a topic or a term
changed since, and only then are they rebuilt. Saving a topic moves its ``updated_at``, so
every process picks the change up on its next batch; stored mentions are not re-matched.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from monitoring.detection import DetectionConfig
from monitoring.models import SensitiveTerm, Topic
from monitoring.rules import (
    SensitiveTermMatcher,
    SensitiveTermRow,
    TopicMatcher,
    TopicSpec,
    parse_query,
    read_terms_csv,
    terms_of,
)
from monitoring.services.thresholds import detection_config

logger = logging.getLogger(__name__)


@dataclass
class Compiled:
    token: tuple[Any, ...]
    matcher: TopicMatcher | None
    terms: SensitiveTermMatcher
    configs: dict[int, DetectionConfig] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)


_cache: dict[str, Compiled] = {}
_cache_lock = threading.Lock()


def _version_token() -> tuple[Any, ...]:
    """One query: what changes whenever a topic or a term is added, edited or deleted."""
    topics, terms = Topic._meta.db_table, SensitiveTerm._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(updated_at) FROM {topics}), (SELECT COUNT(*) FROM {topics}), "  # noqa: S608
            f"(SELECT MAX(updated_at) FROM {terms}), (SELECT COUNT(*) FROM {terms})"
        )
        return tuple(cursor.fetchone() or ())


def compiled_rules() -> Compiled:
    """The matcher of every enabled topic and the term library. Two aggregate queries check
    the version; the automatons are rebuilt only when a topic or a term changed."""
    token = _version_token()
    current = _cache.get("rules")
    if current is not None and current.token == token:
        return current
    with _cache_lock:
        current = _cache.get("rules")
        if current is not None and current.token == token:
            return current
        topics = list(Topic.objects.filter(enabled=True))
        specs = [
            TopicSpec(
                id=t.pk,
                query=t.query,
                exclusions=t.exclusions or None,
                platforms=frozenset(t.platforms) or None,
            )
            for t in topics
        ]
        matcher = TopicMatcher.build(specs, skip_invalid=True) if specs else None
        terms = SensitiveTermMatcher(
            SensitiveTermRow(term, category, weight)
            for term, category, weight in SensitiveTerm.objects.values_list(
                "term", "category", "weight"
            )
        )
        configs: dict[int, DetectionConfig] = {}
        for t in topics:
            try:
                configs[t.pk] = detection_config(t.thresholds)
            except ValueError:
                logger.warning("topic %s has invalid thresholds; using the defaults", t.pk)
                configs[t.pk] = detection_config(None)
        compiled = Compiled(
            token=token,
            matcher=matcher,
            terms=terms,
            configs=configs,
            names={t.pk: t.name for t in topics},
        )
        _cache["rules"] = compiled
        _feed_user_dictionary(topics)
        return compiled


def _feed_user_dictionary(topics: Sequence[Topic]) -> None:
    """Watch terms and sensitive terms go to jieba's user dictionary, so keywords and the
    sentiment model see 茶小满 as one word."""
    try:
        from monitoring import nlp
    except ImportError:  # pragma: no cover
        return
    add = getattr(nlp, "add_user_terms", None)
    if add is None:
        return
    words: set[str] = set(SensitiveTerm.objects.values_list("term", flat=True))
    for topic in topics:
        for text in (topic.query, topic.exclusions):
            if not text:
                continue
            try:
                words.update(terms_of(parse_query(text)))
            except Exception:  # noqa: BLE001, S112 - a broken rule adds no words
                continue
    try:
        add(sorted(w for w in words if 1 < len(w) <= 30))
    except Exception:
        logger.exception("could not feed the user dictionary")


def topic_validate(
    *, query: str, exclusions: str = "", thresholds: dict[str, Any] | None = None
) -> None:
    """Raises QuerySyntaxError (query or exclusions) or ValueError (thresholds)."""
    parse_query(query)
    if exclusions.strip():
        parse_query(exclusions)
    detection_config(thresholds or {})


def topic_create(
    *,
    name: str,
    query: str,
    exclusions: str = "",
    platforms: Iterable[str] = (),
    thresholds: dict[str, Any] | None = None,
    description: str = "",
    enabled: bool = True,
    actor: User | None = None,
) -> Topic:
    topic_validate(query=query, exclusions=exclusions, thresholds=thresholds)
    return Topic.objects.create(
        name=name.strip()[:120],
        description=description[:500],
        query=query.strip(),
        exclusions=exclusions.strip(),
        platforms=sorted(set(platforms)),
        thresholds=thresholds or {},
        enabled=enabled,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )


def topic_update(
    *,
    topic: Topic,
    name: str,
    query: str,
    exclusions: str = "",
    platforms: Iterable[str] = (),
    thresholds: dict[str, Any] | None = None,
    description: str = "",
    enabled: bool = True,
) -> Topic:
    """Save the rule; updated_at moves, so every process rebuilds its matcher on its next
    batch. Mentions already stored are not re-matched (the rule applies from now on)."""
    topic_validate(query=query, exclusions=exclusions, thresholds=thresholds)
    topic.name = name.strip()[:120]
    topic.description = description[:500]
    topic.query = query.strip()
    topic.exclusions = exclusions.strip()
    topic.platforms = sorted(set(platforms))
    topic.thresholds = thresholds or {}
    topic.enabled = enabled
    topic.save()
    return topic


@dataclass
class TermsImport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def terms_import(*, data: bytes, replace: bool = False) -> TermsImport:
    """Upsert the terms of a CSV (monitoring.rules.read_terms_csv); bad rows are reported
    and skipped. ``replace`` deletes the terms the file does not list (only when the file
    had no errors, so a half-broken file cannot wipe the library)."""
    rows, errors = read_terms_csv(data)
    result = TermsImport(errors=list(errors))
    with transaction.atomic():
        existing = {t.term: t for t in SensitiveTerm.objects.select_for_update()}
        to_create, to_update = [], []
        for row in rows:
            current = existing.get(row.term)
            if current is None:
                to_create.append(
                    SensitiveTerm(term=row.term, category=row.category, weight=row.weight)
                )
            elif (current.category, current.weight) != (row.category, row.weight):
                current.category, current.weight = row.category, row.weight
                to_update.append(current)
            else:
                result.unchanged += 1
        SensitiveTerm.objects.bulk_create(to_create)
        now = timezone.now()
        for term in to_update:
            term.updated_at = now
        SensitiveTerm.objects.bulk_update(to_update, ["category", "weight", "updated_at"])
        result.created, result.updated = len(to_create), len(to_update)
        if replace and not errors and rows:
            keep = {row.term for row in rows}
            SensitiveTerm.objects.exclude(term__in=keep).delete()
    return result


def term_save(*, term: str, category: str, weight: int) -> SensitiveTerm:
    """Add or change one term (folded like the CSV import)."""
    header = "term,category,weight\n"
    rows, errors = read_terms_csv((header + _csv_line(term, category, weight)).encode("utf-8"))
    if errors or not rows:
        raise ValueError(errors[0][1] if errors else "empty term")
    row = rows[0]
    obj, _created = SensitiveTerm.objects.update_or_create(
        term=row.term, defaults={"category": row.category, "weight": row.weight}
    )
    return obj


def _csv_line(*values: object) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def term_delete(*, term_id: int) -> None:
    SensitiveTerm.objects.filter(pk=term_id).delete()
