"""The bulk store path: idempotency, edits, clusters, repost links, corrections, queries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring import selectors, services
from monitoring.ingest import NormalizedItem
from monitoring.models import Mention, MentionCluster, Polarity, RawItem, SentimentCorrection

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def item(external_id: str, text: str, **extra: object) -> NormalizedItem:
    values: dict[str, object] = {
        "external_id": external_id,
        "platform": "weibo",
        "text": text,
        "posted_at": T0,
        "author_id": f"u{external_id}",
        "author_name": f"user{external_id}",
        "likes": 1,
    }
    values.update(extra)
    return NormalizedItem(**values)  # type: ignore[arg-type]


def test_rerun_changes_nothing_and_edit_updates_counts() -> None:
    batch = [item(str(i), f"茶小满第{i}家门店开业，排队的人好多") for i in range(30)]
    first = services.mentions_store(items=batch)
    assert (first.created, first.updated, first.unchanged) == (30, 0, 0)
    snapshot = list(Mention.objects.order_by("pk").values())
    again = services.mentions_store(items=batch)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 30)
    assert list(Mention.objects.order_by("pk").values()) == snapshot

    edited = [item("3", batch[3].text, likes=99, reposts=7, comments=None)]
    result = services.mentions_store(items=edited)
    assert (result.created, result.updated) == (0, 1)
    mention = Mention.objects.get(external_id="3")
    assert (mention.likes, mention.reposts) == (99, 7)
    assert Mention.objects.count() == 30


def test_copies_from_many_accounts_form_one_cluster() -> None:
    base = "茶小满奶茶里喝出蟑螂，门店还不给退款！大家千万别去了"
    copies = [
        item(
            f"c{i}", base + ["！！", "[怒]", " @茶小满官方", "…", "。"][i % 5], author_id=f"acct{i}"
        )
        for i in range(25)
    ]
    services.mentions_store(items=copies[:10])
    services.mentions_store(items=copies[10:])
    # a near-duplicate (SimHash within the distance): the last character dropped
    services.mentions_store(items=[item("near", base[:-1])])
    services.mentions_store(items=[item("other", "今天天气很好，去公园散步")])
    cluster_ids = set(
        Mention.objects.filter(external_id__startswith="c").values_list("cluster_id", flat=True)
    )
    assert len(cluster_ids) == 1
    cluster = MentionCluster.objects.get(pk=cluster_ids.pop())
    assert Mention.objects.get(external_id="near").cluster_id == cluster.pk
    assert cluster.size == 26
    assert Mention.objects.get(external_id="other").cluster_id != cluster.pk
    # re-delivery does not inflate the cluster
    services.mentions_store(items=copies)
    cluster.refresh_from_db()
    assert cluster.size == 26


def test_repost_links_from_data_and_from_chains() -> None:
    root = item("r1", "茶小满新品发布会现场！", author_name="茶小满官方")
    middle = item("m1", "已经下单了//@茶小满官方:茶小满新品发布会现场！", author_name="小满粉丝")
    services.mentions_store(items=[root])
    services.mentions_store(
        items=[
            middle,
            item("m2", "转发微博//@小满粉丝:已经下单了//@茶小满官方:茶小满新品发布会现场！"),
            item("d1", "有数据的转发", parent_id="r1", root_id="r1"),
            item("u1", "哈哈//@不存在的人:原文不在库里"),
        ]
    )
    m1 = Mention.objects.get(external_id="m1")
    assert (m1.parent_external_id, m1.root_external_id) == ("r1", "r1")
    m2 = Mention.objects.get(external_id="m2")
    assert (m2.parent_external_id, m2.root_external_id) == ("m1", "r1")
    d1 = Mention.objects.get(external_id="d1")
    assert (d1.parent_external_id, d1.root_external_id) == ("r1", "r1")
    u1 = Mention.objects.get(external_id="u1")
    assert u1.parent_external_id == "" and u1.repost_parent_name == "不存在的人"


def test_analysis_is_stored_and_correction_survives_redelivery(analyst) -> None:
    services.mentions_store(items=[item("s1", "茶小满的奶茶太难喝了，还是投诉吧，服务差")])
    mention = Mention.objects.get()
    assert mention.polarity in Polarity.values
    services.mention_correct(
        mention=mention, actor=analyst, polarity="positive", crisis_type="", note="irony"
    )
    services.mentions_store(
        items=[item("s1", "茶小满的奶茶太难喝了，还是投诉吧，服务差！", likes=5)]
    )
    mention.refresh_from_db()
    assert mention.polarity == "positive" and mention.likes == 5
    assert mention.corrected_at is not None
    correction = SentimentCorrection.objects.get()
    assert correction.corrected_by == analyst and correction.label == 1
    assert selectors.correction_examples() == [(correction.text, 1)]


def test_query_count_does_not_grow_with_batch_size(require_postgres: None) -> None:
    def queries_for(prefix: str, size: int, start: datetime) -> int:
        batch = [
            item(
                f"{prefix}{i}",
                f"第{i}位顾客说：茶小满{prefix}店的{i}号杯子漏了"
                + ("//@店长:收到" if i % 3 == 0 else ""),
                posted_at=start + timedelta(seconds=i),
                reposts=i,
            )
            for i in range(size)
        ]
        with CaptureQueriesContext(connection) as ctx:
            services.mentions_store(items=batch)
        return len(ctx.captured_queries)

    small = queries_for("a", 10, T0)
    large = queries_for("b", 400, T0)
    assert large <= small, (small, large)
    assert large <= 12
    # and the update path
    Mention.objects.update(likes=0)
    with CaptureQueriesContext(connection) as ctx:
        services.mentions_store(
            items=[item(f"b{i}", "x", likes=i + 1, posted_at=T0) for i in range(400)]
        )
    assert len(ctx.captured_queries) <= 12


def test_inbox_process_chunks_and_is_idempotent() -> None:
    lines = "\n".join(
        json.dumps(
            {
                "external_id": str(i),
                "platform": "weibo",
                "text": f"茶小满{i}号",
                "posted_at": "2026-11-24T10:00:00+08:00",
            }
        )
        for i in range(25)
    )
    raw = services.inbox_receive(body=lines.encode(), channel=RawItem.Channel.COMMAND)
    outcome = services.inbox_process(raw_item_id=raw.pk, chunk_size=7)
    assert outcome is not None and outcome.created == 25
    assert services.inbox_process(raw_item_id=raw.pk) is None  # done: nothing to claim
    # a crashed run (claim expired) is taken over and stores nothing twice
    RawItem.objects.filter(pk=raw.pk).update(
        status=RawItem.Status.PROCESSING, claimed_at=T0 - timedelta(days=1)
    )
    assert services.inbox_stale_ids() == [raw.pk]
    again = services.inbox_process(raw_item_id=raw.pk, chunk_size=7)
    assert again is not None and again.created == 0 and again.unchanged == 25
    assert Mention.objects.count() == 25


def _with_simhashes(monkeypatch: pytest.MonkeyPatch, hashes: dict[str, int]) -> None:
    """Give chosen texts chosen SimHash values (the exact fingerprint stays per text)."""
    from monitoring.ingest import Fingerprint, fingerprint_many

    def chosen(texts: list[str]) -> list[Fingerprint]:
        return [
            Fingerprint(simhash=hashes.get(text, real.simhash), exact=real.exact)
            for text, real in zip(texts, fingerprint_many(texts), strict=True)
        ]

    monkeypatch.setattr(services.store, "fingerprint_many", chosen)


def _flip(value: int, *bits: int) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


def test_near_duplicates_by_simhash_distance_and_band(monkeypatch: pytest.MonkeyPatch) -> None:
    base = 0x0123_4567_89AB_CDEF
    hashes = {
        "seed": base,
        # 3 bits apart, one in each of three bands: always found (one band is untouched)
        "d3": _flip(base, 1, 20, 40),
        # 6 bits apart, all in band 0: found through bands 1-3
        "d6": _flip(base, 0, 1, 2, 3, 4, 5),
        # 6 bits apart touching every band: not found (the documented miss of 4 bands)
        "d6 spread": _flip(base, 0, 1, 17, 33, 49, 50),
        # 7 bits apart: never a near-duplicate, even though bands 1-3 match
        "d7": _flip(base, 0, 1, 2, 3, 4, 5, 6),
    }
    _with_simhashes(monkeypatch, hashes)
    services.mentions_store(items=[item("seed", "seed")])
    seed = Mention.objects.get(external_id="seed").cluster_id
    services.mentions_store(items=[item(text, text) for text in hashes if text != "seed"])
    cluster_of = dict(Mention.objects.values_list("external_id", "cluster_id"))
    assert cluster_of["d3"] == seed
    assert cluster_of["d6"] == seed
    assert cluster_of["d6 spread"] != seed
    assert cluster_of["d7"] != seed
    assert MentionCluster.objects.get(pk=seed).size == 3


def test_near_duplicates_within_one_chunk_and_outside_the_window(
    monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    base = 0x7EDC_BA98_7654_3210
    _with_simhashes(monkeypatch, {"old": base, "a": _flip(base, 9), "b": _flip(base, 9, 10)})
    services.mentions_store(items=[item("old", "old")], now=T0)
    settings.MONITORING_CLUSTER_WINDOW_HOURS = 1
    # Two hours later the old cluster is out of the window; a and b, one chunk, find each other.
    services.mentions_store(items=[item("a", "a"), item("b", "b")], now=T0 + timedelta(hours=2))
    cluster_of = dict(Mention.objects.values_list("external_id", "cluster_id"))
    assert cluster_of["a"] == cluster_of["b"] != cluster_of["old"]
    assert MentionCluster.objects.get(pk=cluster_of["a"]).size == 2
