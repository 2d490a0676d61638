"""Ingest keeps the per-topic minute buckets: matched once, counted once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import services
from monitoring.models import MentionTopic, RawItem, Source, TopicBucket
from tests.monitoring.watch_support import item, nlp_available, payload  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def topic():
    return services.topic_create(name="茶小满", query="茶小满 OR 小满奶茶", exclusions="招聘")


def test_store_links_matches_and_fills_buckets(topic) -> None:
    now = timezone.now()
    posts = [
        item("1", "茶小满的杨枝甘露好喝", now),
        item("2", "茶小满喝出异物，投诉无门", now, author_followers=5000),
        item("3", "隔壁咖啡店开业了", now),
        item("4", "茶小满招聘店员，月薪五千", now),  # excluded
        item("5", "小满奶茶在抖音也火了", now, platform="douyin", views=900, author_followers=None),
    ]
    services.mentions_store(items=posts)
    linked = set(MentionTopic.objects.values_list("mention__external_id", flat=True))
    assert linked == {"1", "2", "5"}
    by_platform = {b.platform: b for b in TopicBucket.objects.filter(topic=topic)}
    assert by_platform["weibo"].volume == 2 and by_platform["weibo"].negative == 1
    assert by_platform["weibo"].reach == 5100 and by_platform["weibo"].negative_reach == 5000
    assert by_platform["douyin"].volume == 1 and by_platform["douyin"].reach == 900


def test_redelivery_of_the_same_payload_is_not_counted_twice(topic) -> None:
    source, _token = services.source_create(
        name="push", slug="push", kind=Source.Kind.WEBHOOK, platform="weibo"
    )
    now = timezone.now()
    body = payload(
        [
            {
                "external_id": f"r{i}",
                "platform": "weibo",
                "text": f"茶小满第{i}家店排队太差了，投诉",
                "posted_at": now.isoformat(),
                "author": {"name": f"网友{i}", "followers": 10},
            }
            for i in range(12)
        ]
    )
    for _ in range(2):
        services.ingest_payload(body=body, channel=RawItem.Channel.WEBHOOK, source=source)
    # a later delivery with changed counts updates the mentions, still no double count
    changed = body.replace(b'"followers": 10', b'"followers": 11')
    services.ingest_payload(body=changed, channel=RawItem.Channel.WEBHOOK, source=source)
    assert MentionTopic.objects.count() == 12
    assert sum(TopicBucket.objects.values_list("volume", flat=True)) == 12
    assert sum(TopicBucket.objects.values_list("negative", flat=True)) == 12


def test_buckets_are_per_minute_and_future_posts_count_now(topic) -> None:
    now = timezone.now().replace(second=30, microsecond=0)
    services.mentions_store(
        items=[
            item("a", "茶小满 a", now - timedelta(minutes=3)),
            item("b", "茶小满 b", now - timedelta(minutes=3, seconds=10)),
            item("c", "茶小满 c", now + timedelta(hours=2)),
        ],
        now=now,
    )
    minutes = dict(TopicBucket.objects.values_list("minute", "volume"))
    assert minutes == {
        (now - timedelta(minutes=3)).replace(second=0): 2,
        now.replace(second=0): 1,
    }


def test_topic_change_rebuilds_the_matcher(topic) -> None:
    now = timezone.now()
    services.mentions_store(items=[item("x1", "满杯橙橙上新", now)])
    assert not MentionTopic.objects.exists()
    services.topic_update(topic=topic, name=topic.name, query="茶小满 OR 满杯橙橙")
    services.mentions_store(items=[item("x2", "满杯橙橙又上新", now)])
    assert list(MentionTopic.objects.values_list("mention__external_id", flat=True)) == ["x2"]


def test_rollup_query_count_does_not_grow(topic, django_assert_max_num_queries) -> None:
    now = timezone.now()
    services.mentions_store(items=[item(f"w{i}", f"茶小满 {i}", now) for i in range(5)])
    with django_assert_max_num_queries(30):
        services.mentions_store(items=[item(f"q{i}", f"茶小满 第{i}条", now) for i in range(300)])
    assert MentionTopic.objects.count() == 305
