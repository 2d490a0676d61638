"""``mentions_store``: the bulk path that stores a chunk of normalized items as mentions.

A constant number of queries per chunk whatever its size (existing rows, clusters by exact
fingerprint, clusters by SimHash band, repost parents, one insert, one update, one cluster
update), analysis in one vectorised pass, and an advisory lock on PostgreSQL so concurrent
workers cannot both insert one cluster. Insert, update, then in the same transaction the
topic rollup (``monitoring.services.rollups``); its alerts are raised after the commit.
This is the ingest hot path (docs/benchmarks.md): a new per-mention step takes the chunk.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from monitoring.ingest import (
    NormalizedItem,
    fingerprint_many,
    parse_repost_chain,
    text_fingerprint,
)
from monitoring.models import Mention, Polarity
from monitoring.services.clusters import clusters_assign
from monitoring.services.rollups import rollup_after_commit, topics_rollup

# Any constant: the advisory lock that serialises the write phase of mentions_store.
_STORE_LOCK_KEY = 0x46_48_4D_4F  # "FHMO"


@dataclass
class StoreResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: StoreResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass
class _Prepared:
    item: NormalizedItem
    simhash: int  # signed 64-bit, as stored
    text_hash: str
    parent_name: str = ""
    root_name: str = ""
    parent_hash: str = ""
    root_hash: str = ""


def _prepare(items: Sequence[NormalizedItem]) -> list[_Prepared]:
    """Fingerprints and repost-chain names of each item (SimHashes for the batch at once)."""
    prepared = [
        _Prepared(item=item, simhash=fp.simhash_signed, text_hash=fp.exact)
        for item, fp in zip(items, fingerprint_many([i.text for i in items]), strict=True)
    ]
    for p in prepared:
        text = p.item.text
        if p.item.parent_id or not ("//@" in text or "／／" in text or "// @" in text):
            continue
        chain = parse_repost_chain(text)
        if chain.chain:
            p.parent_name = (chain.parent_name or "")[:64]
            p.root_name = (chain.root_name or "")[:64]
            p.parent_hash = text_fingerprint(chain.chain[0][1])
            p.root_hash = text_fingerprint(chain.chain[-1][1])
    return prepared


def _analyze(texts: list[str]) -> list[Any]:
    """The NLP layer's analysis of each text, the whole chunk in one vectorised call."""
    if not texts:
        return []
    from monitoring import nlp

    return nlp.analyze_many(texts)


_POLARITIES = frozenset(Polarity.values)


def _analysis_values(analysis: Any) -> dict[str, Any]:
    polarity = str(getattr(analysis, "polarity", "") or "")
    if polarity not in _POLARITIES:
        polarity = ""
    sentiment = getattr(analysis, "sentiment", None)
    keywords = getattr(analysis, "keywords", None) or []
    return {
        "sentiment": float(sentiment) if isinstance(sentiment, int | float) else None,
        "polarity": polarity,
        "crisis_type": str(getattr(analysis, "crisis_type", "") or "")[:32],
        "keywords": [str(k) for k in list(keywords)[:20]],
    }


_SCALAR_FIELDS = ("title", "url", "author_id", "author_name", "location")
_COUNT_FIELDS = ("reposts", "comments", "likes", "views", "author_followers")


def _item_values(item: NormalizedItem) -> dict[str, Any]:
    return {
        "text": item.text,
        "title": (item.title or "")[:500],
        "url": (item.url or "")[:2000],
        "posted_at": item.posted_at,
        "author_id": (item.author_id or "")[:128],
        "author_name": (item.author_name or "")[:200],
        "author_followers": item.author_followers,
        "author_verified": bool(item.author_verified),
        "location": (item.location or "")[:100],
        "reposts": item.reposts,
        "comments": item.comments,
        "likes": item.likes,
        "views": item.views,
    }


def _changes(existing: Mention, item: NormalizedItem) -> dict[str, Any]:
    """Fields of ``existing`` that a new delivery of the same post changes. Counts that the
    new delivery leaves out keep their stored value."""
    values = _item_values(item)
    changes: dict[str, Any] = {}
    for name in ("text", "author_verified", *_SCALAR_FIELDS):
        if values[name] != getattr(existing, name) and (values[name] or name == "author_verified"):
            changes[name] = values[name]
    for name in _COUNT_FIELDS:
        if values[name] is not None and values[name] != getattr(existing, name):
            changes[name] = values[name]
    return changes


def _existing_mentions(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Mention]:
    keys = set(keys)
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        # A join against the (platform, external_id) unique index. Django would prepare a
        # thousand-parameter IN list per column, which costs more than the query itself.
        platforms, external_ids = zip(*keys, strict=True)
        rows: Iterable[Mention] = Mention.objects.raw(
            f"SELECT m.* FROM {Mention._meta.db_table} m "  # noqa: S608
            "JOIN unnest(%s::varchar[], %s::varchar[]) AS k(platform, external_id) "
            "ON m.platform = k.platform AND m.external_id = k.external_id",
            [list(platforms), list(external_ids)],
        )
    else:
        rows = Mention.objects.filter(
            platform__in={p for p, _ in keys}, external_id__in={e for _, e in keys}
        )
    return {(m.platform, m.external_id): m for m in rows if (m.platform, m.external_id) in keys}


def mentions_store(
    *,
    items: Sequence[NormalizedItem],
    source_id: int | None = None,
    raw_item_id: int | None = None,
    now: datetime | None = None,
    detect: bool = True,
) -> StoreResult:
    """Insert new mentions, update changed ones, leave identical ones alone.

    ``items`` must not repeat a (platform, external_id) (the parser dedupes a batch).
    Query count is constant in len(items) (see the module docstring).
    """
    result = StoreResult()
    if not items:
        return result
    now = now or timezone.now()
    prepared = _prepare(items)

    # Analysis is the expensive part: run it, outside the lock, only for texts that are new
    # or changed. The existing rows are read again under the lock to decide the writes.
    seen = _existing_mentions(p.item.key for p in prepared)
    analysis: dict[tuple[str, str], dict[str, Any]] = {}

    def analyze(batch: list[_Prepared]) -> None:
        for p, a in zip(batch, _analyze([p.item.text for p in batch]), strict=True):
            analysis[p.item.key] = _analysis_values(a)

    analyze([p for p in prepared if p.item.key not in seen or seen[p.item.key].text != p.item.text])

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_STORE_LOCK_KEY])
                # Mentions are derived from the inbox, whose rows are committed durably.
                # Should a crash lose this commit, the later (synchronous) commit that
                # marks the payload done is lost too - WAL is flushed in order - so
                # the payload is simply processed again.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        existing = _existing_mentions(p.item.key for p in prepared)
        missing = [
            p
            for p in prepared
            if p.item.key not in analysis
            and (p.item.key not in existing or existing[p.item.key].text != p.item.text)
        ]
        analyze(missing)  # only rows that changed between the two reads

        new = [p for p in prepared if p.item.key not in existing]
        clusters = clusters_assign(new, now=now)
        parents = _resolve_repost_names(new)

        to_create: list[dict[str, Any]] = []
        for p in new:
            item = p.item
            parent_ext, root_ext = item.parent_id or "", item.root_id or ""
            if not parent_ext and p.parent_name:
                parent_ext = parents.get((item.platform, p.parent_name, p.parent_hash), "")
                root_ext = parents.get((item.platform, p.root_name, p.root_hash), "") or root_ext
            cluster_id = clusters.get(item.key)
            to_create.append(
                {
                    "platform": item.platform,
                    "external_id": item.external_id[:128],
                    "source_id": source_id,
                    "raw_item_id": raw_item_id,
                    "received_at": now,
                    "updated_at": now,
                    "parent_external_id": parent_ext[:128],
                    "root_external_id": (root_ext or "")[:128],
                    "repost_parent_name": "" if parent_ext else p.parent_name,
                    "repost_root_name": "" if root_ext else p.root_name,
                    "simhash": p.simhash,
                    "text_hash": p.text_hash,
                    "cluster_id": cluster_id,
                    "corrected_at": None,
                    **_item_values(item),
                    **analysis[item.key],
                }
            )
        _insert_mentions(to_create)
        result.created = len(to_create)

        to_update: list[Mention] = []
        for p in prepared:
            current = existing.get(p.item.key)
            if current is None:
                continue
            changes = _changes(current, p.item)
            if not changes:
                result.unchanged += 1
                continue
            if "text" in changes:
                changes.update(simhash=p.simhash, text_hash=p.text_hash)
                values = analysis[p.item.key]
                if current.corrected_at is not None:  # an analyst's word stands
                    values = {k: v for k, v in values.items() if k in ("sentiment", "keywords")}
                changes.update(values)
            changes["updated_at"] = now
            for name, value in changes.items():
                setattr(current, name, value)
            to_update.append(current)
        _update_mentions(to_update)
        result.updated = len(to_update)

        # Watch topics: link the new and changed mentions and add them to the minute
        # buckets in this same transaction (monitoring.services.rollups.topics_rollup).
        rollup = topics_rollup(
            mention_ids=[m.pk for m in to_update],
            created_keys=[(row["platform"], row["external_id"]) for row in to_create],
            now=now,
            detect=detect,
        )
    rollup_after_commit(rollup)
    return result


def _resolve_repost_names(new: list[_Prepared]) -> dict[tuple[str, str, str], str]:
    """(platform, author name, own-text fingerprint) -> external id, for the //@name: chains
    of new mentions: from this chunk and from stored mentions."""
    wanted = {
        (p.item.platform, name, text_hash)
        for p in new
        for name, text_hash in ((p.parent_name, p.parent_hash), (p.root_name, p.root_hash))
        if name
    }
    if not wanted:
        return {}
    found: dict[tuple[str, str, str], str] = {}
    for p in new:
        key = (p.item.platform, (p.item.author_name or "")[:64], p.text_hash)
        if key in wanted:
            found.setdefault(key, p.item.external_id)
    rows = Mention.objects.filter(
        platform__in={w[0] for w in wanted},
        author_name__in={w[1] for w in wanted},
        text_hash__in={w[2] for w in wanted},
    ).values_list("platform", "author_name", "text_hash", "external_id")
    for platform, name, text_hash, external_id in rows:
        found.setdefault((platform, name, text_hash), external_id)
    return found


_INSERT_COLUMNS = (
    "platform",
    "external_id",
    "source_id",
    "raw_item_id",
    "text",
    "title",
    "url",
    "posted_at",
    "received_at",
    "updated_at",
    "author_id",
    "author_name",
    "author_followers",
    "author_verified",
    "location",
    "reposts",
    "comments",
    "likes",
    "views",
    "parent_external_id",
    "root_external_id",
    "repost_parent_name",
    "repost_root_name",
    "simhash",
    "text_hash",
    "cluster_id",
    "sentiment",
    "polarity",
    "crisis_type",
    "keywords",
    "corrected_at",
)
_NULLABLE_COLUMNS = (
    "source_id",
    "raw_item_id",
    "author_followers",
    "reposts",
    "comments",
    "likes",
    "views",
    "cluster_id",
    "sentiment",
    "corrected_at",
)
# What a new delivery may change on a stored mention (see _changes), with its SQL type.
_UPDATE_COLUMNS = (
    ("text", "text"),
    ("title", "varchar"),
    ("url", "varchar"),
    ("author_id", "varchar"),
    ("author_name", "varchar"),
    ("author_followers", "bigint"),
    ("author_verified", "boolean"),
    ("location", "varchar"),
    ("reposts", "bigint"),
    ("comments", "bigint"),
    ("likes", "bigint"),
    ("views", "bigint"),
    ("simhash", "bigint"),
    ("text_hash", "varchar"),
    ("sentiment", "double precision"),
    ("polarity", "varchar"),
    ("crisis_type", "varchar"),
    ("keywords", "jsonb"),
    ("updated_at", "timestamptz"),
)


def _insert_mentions(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        Mention.objects.bulk_create([Mention(**row) for row in rows])
        return
    # COPY in CSV: the fastest way into PostgreSQL, ~2x a multi-row INSERT. None is
    # written as "", which FORCE_NULL turns into NULL for the nullable non-text columns
    # (the only ones that can be None); empty strings in text columns stay empty.
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    keywords_at = _INSERT_COLUMNS.index("keywords")
    for row in rows:
        values = [row[c] for c in _INSERT_COLUMNS]
        values[keywords_at] = json.dumps(values[keywords_at], ensure_ascii=False)
        writer.writerow(values)
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {Mention._meta.db_table} ({', '.join(_INSERT_COLUMNS)}) "
            f"FROM STDIN WITH (FORMAT csv, FORCE_NULL ({', '.join(_NULLABLE_COLUMNS)}))",
            buffer,
        )


def _update_mentions(mentions: list[Mention]) -> None:
    if not mentions:
        return
    names = [name for name, _type in _UPDATE_COLUMNS]
    if connection.vendor != "postgresql":
        Mention.objects.bulk_update(mentions, names)
        return
    from psycopg2.extras import Json

    template = (
        "(%s::bigint," + ",".join(f"%s::{sql_type}" for _n, sql_type in _UPDATE_COLUMNS) + ")"
    )
    with connection.cursor() as cursor:
        raw = cursor.cursor
        values = b",".join(
            raw.mogrify(
                template,
                [m.pk] + [Json(m.keywords) if n == "keywords" else getattr(m, n) for n in names],
            )
            for m in mentions
        ).decode()
        assignments = ", ".join(f"{n} = v.{n}" for n in names)
        # Names are ours; values escaped by mogrify (no params: a "%" in a text is literal).
        cursor.execute(
            f"UPDATE {Mention._meta.db_table} AS m SET {assignments} "  # noqa: S608
            f"FROM (VALUES {values}) AS v(id, {', '.join(names)}) WHERE m.id = v.id"
        )
