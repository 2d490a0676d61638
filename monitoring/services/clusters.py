"""Near-duplicate clusters of new mentions, found or created under the store's lock.

Exact fingerprint first (any age), then SimHash: a cluster seen within
MONITORING_CLUSTER_WINDOW_HOURS that shares one of the four 16-bit bands and lies within
NEAR_DUPLICATE_DISTANCE bits (docs/monitoring.md says what four bands guarantee). Part of
the ingest hot path: a constant number of queries per chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db import connection
from django.db.models import Case, F, IntegerField, Q, Value, When

from monitoring.ingest import NEAR_DUPLICATE_DISTANCE, NormalizedItem, fingerprint, hamming
from monitoring.models import MentionCluster

_EMPTY_TEXT_HASH = fingerprint("").exact
_MASK16 = 0xFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


class Clusterable(Protocol):
    """What clustering reads of an item the store prepared (its fingerprints)."""

    @property
    def item(self) -> NormalizedItem: ...

    @property
    def simhash(self) -> int: ...  # signed 64-bit, as stored

    @property
    def text_hash(self) -> str: ...


def _bands(simhash_unsigned: int) -> tuple[int, int, int, int]:
    return (
        simhash_unsigned & _MASK16,
        (simhash_unsigned >> 16) & _MASK16,
        (simhash_unsigned >> 32) & _MASK16,
        (simhash_unsigned >> 48) & _MASK16,
    )


@dataclass(eq=False)
class _Cluster:
    """A near-duplicate cluster as the store works with it (cheaper than a model instance)."""

    pk: int | None
    text_hash: str
    simhash: int  # signed, as stored
    joined: int = 0  # new members from this chunk


def clusters_assign(new: Sequence[Clusterable], *, now: datetime) -> dict[tuple[str, str], int]:
    """Find or create the near-duplicate cluster of each new mention (under the lock), and
    return the cluster id of each.

    Exact fingerprint first (any age), then SimHash: a cluster seen within
    MONITORING_CLUSTER_WINDOW_HOURS that shares one of the four 16-bit bands and lies within
    NEAR_DUPLICATE_DISTANCE bits. A shared band is certain up to 3 bits apart and likely
    beyond (docs/monitoring.md); the distance is checked in the database, so only real
    matches come back.
    """
    clusterable = [p for p in new if p.text_hash != _EMPTY_TEXT_HASH]
    if not clusterable:
        return {}
    hashes = list({p.text_hash for p in clusterable})
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, text_hash, simhash FROM {MentionCluster._meta.db_table} "  # noqa: S608
                "WHERE text_hash = ANY(%s::varchar[])",
                [hashes],
            )
            rows: Iterable[tuple[int, str, int]] = cursor.fetchall()
    else:
        rows = MentionCluster.objects.filter(text_hash__in=hashes).values_list(
            "pk", "text_hash", "simhash"
        )
    by_hash = {text_hash: _Cluster(pk, text_hash, simhash) for pk, text_hash, simhash in rows}
    unmatched = [p for p in clusterable if p.text_hash not in by_hash]
    stored = _stored_neighbours(unmatched, now=now) if unmatched else {}
    known: dict[int, _Cluster] = {c.pk: c for c in by_hash.values() if c.pk is not None}
    band_index: list[dict[int, list[_Cluster]]] = [{}, {}, {}, {}]

    assigned: dict[tuple[str, str], _Cluster] = {}
    fresh: list[_Cluster] = []
    for p in clusterable:
        cluster = by_hash.get(p.text_hash)
        if cluster is None:
            candidates = [
                known.setdefault(pk, _Cluster(pk, text_hash, simhash))
                for pk, text_hash, simhash in stored.get(p.text_hash, ())
            ]
            # Clusters this chunk has created so far, found through the same bands.
            for i, band in enumerate(_bands(p.simhash & _MASK64)):
                candidates.extend(band_index[i].get(band, ()))
            cluster = _nearest(p.simhash, candidates)
        if cluster is None:
            cluster = _Cluster(None, p.text_hash, p.simhash)
            fresh.append(cluster)
            for i, band in enumerate(_bands(p.simhash & _MASK64)):
                band_index[i].setdefault(band, []).append(cluster)
        by_hash.setdefault(p.text_hash, cluster)
        cluster.joined += 1
        assigned[p.item.key] = cluster
    _write_clusters(fresh, [c for c in known.values() if c.joined], now=now)
    return {key: cluster.pk for key, cluster in assigned.items() if cluster.pk is not None}


def _stored_neighbours(
    items: list[Clusterable], *, now: datetime
) -> dict[str, list[tuple[int, str, int]]]:
    """text_hash -> (id, text_hash, simhash) of the recent stored clusters within
    NEAR_DUPLICATE_DISTANCE of that item's SimHash that share a band with it."""
    window = now - timedelta(hours=float(settings.MONITORING_CLUSTER_WINDOW_HOURS))
    wanted = {p.text_hash: p.simhash for p in items}
    found: dict[str, list[tuple[int, str, int]]] = {}
    if connection.vendor == "postgresql":
        table = MentionCluster._meta.db_table
        bands = [_bands(h & _MASK64) for h in wanted.values()]
        # One index probe per band and item; the distance is checked in the database
        # (bit_count needs PostgreSQL 14), so candidates that only share a band stay there.
        probes = " UNION ".join(
            f"SELECT q.k, c.id, c.text_hash, c.simhash FROM q JOIN {table} c "  # noqa: S608
            f"ON c.band{i} = q.b{i} WHERE c.last_seen_at >= %(window)s "
            "AND bit_count((c.simhash # q.h)::bit(64)) <= %(distance)s"
            for i in range(4)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH q(k, h, b0, b1, b2, b3) AS (SELECT * FROM unnest(%(keys)s::varchar[], "  # noqa: S608
                "%(hashes)s::bigint[], %(b0)s::int[], %(b1)s::int[], %(b2)s::int[], "
                f"%(b3)s::int[])) {probes}",
                {
                    "keys": list(wanted),
                    "hashes": list(wanted.values()),
                    **{f"b{i}": [b[i] for b in bands] for i in range(4)},
                    "window": window,
                    "distance": NEAR_DUPLICATE_DISTANCE,
                },
            )
            for key, pk, text_hash, simhash in cursor.fetchall():
                found.setdefault(key, []).append((pk, text_hash, simhash))
        return found
    # Other databases: fetch the band matches and check the distance here.
    band_sets: list[set[int]] = [set(), set(), set(), set()]
    for simhash in wanted.values():
        for i, band in enumerate(_bands(simhash & _MASK64)):
            band_sets[i].add(band)
    rows = MentionCluster.objects.filter(
        Q(band0__in=band_sets[0])
        | Q(band1__in=band_sets[1])
        | Q(band2__in=band_sets[2])
        | Q(band3__in=band_sets[3]),
        last_seen_at__gte=window,
    ).values_list("pk", "text_hash", "simhash", "band0", "band1", "band2", "band3")
    for pk, text_hash, simhash, *stored_bands in rows:
        for key, item_hash in wanted.items():
            if hamming(simhash, item_hash) <= NEAR_DUPLICATE_DISTANCE and any(
                a == b for a, b in zip(stored_bands, _bands(item_hash & _MASK64), strict=True)
            ):
                found.setdefault(key, []).append((pk, text_hash, simhash))
    return found


def _write_clusters(fresh: list[_Cluster], grown: list[_Cluster], *, now: datetime) -> None:
    """Insert the new clusters (setting their ids) and add new members to stored ones."""
    if fresh:
        bands = [_bands(c.simhash & _MASK64) for c in fresh]
        if connection.vendor == "postgresql":
            table = MentionCluster._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (text_hash, simhash, band0, band1, band2, band3, "  # noqa: S608
                    "size, first_seen_at, last_seen_at) SELECT t, h, b0, b1, b2, b3, n, %s, %s "
                    "FROM unnest(%s::varchar[], %s::bigint[], %s::int[], %s::int[], "
                    "%s::int[], %s::int[], %s::int[]) AS v(t, h, b0, b1, b2, b3, n) "
                    "RETURNING id, text_hash",
                    [
                        now,
                        now,
                        [c.text_hash for c in fresh],
                        [c.simhash for c in fresh],
                        *([b[i] for b in bands] for i in range(4)),
                        [c.joined for c in fresh],
                    ],
                )
                ids = dict((text_hash, pk) for pk, text_hash in cursor.fetchall())
            for cluster in fresh:
                cluster.pk = ids[cluster.text_hash]
        else:
            rows = [
                MentionCluster(
                    text_hash=c.text_hash,
                    simhash=c.simhash,
                    band0=b[0],
                    band1=b[1],
                    band2=b[2],
                    band3=b[3],
                    size=c.joined,
                    first_seen_at=now,
                    last_seen_at=now,
                )
                for c, b in zip(fresh, bands, strict=True)
            ]
            MentionCluster.objects.bulk_create(rows)
            for cluster, row in zip(fresh, rows, strict=True):
                cluster.pk = row.pk
    if not grown:
        return
    # An increment, not a size computed here: correct even without the lock.
    if connection.vendor == "postgresql":
        table = MentionCluster._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS c SET size = c.size + v.n, last_seen_at = %s "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::int[]) AS v(id, n) WHERE c.id = v.id",
                [now, [c.pk for c in grown], [c.joined for c in grown]],
            )
        return
    joined = Case(
        *(When(pk=c.pk, then=Value(c.joined)) for c in grown), output_field=IntegerField()
    )
    MentionCluster.objects.filter(pk__in=[c.pk for c in grown]).update(
        size=F("size") + joined, last_seen_at=now
    )


def _nearest(simhash: int, candidates: Iterable[_Cluster]) -> _Cluster | None:
    """The candidate closest to ``simhash`` within NEAR_DUPLICATE_DISTANCE (ties: oldest)."""
    best: _Cluster | None = None
    best_rank = (NEAR_DUPLICATE_DISTANCE + 1, 0)
    for cluster in candidates:
        rank = (hamming(simhash, cluster.simhash), cluster.pk or 1 << 62)
        if rank < best_rank:
            best, best_rank = cluster, rank
    return best
