"""Alerts group on their fingerprint, attach to the topic's open incident or open one, and
the incident's severity escalates with its signals (never down)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crisis.models import Incident, TimelineEvent
from monitoring import selectors, services
from monitoring.detection import Signal
from monitoring.models import Alert, DetectorState, Mention, TopicBucket
from tests.monitoring.watch_support import item, nlp_available  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def topic():
    return services.topic_create(name="茶小满", query="茶小满")


def signal(fp: str = "volume_spike:1", kind: str = "volume_spike", score: float = 2.0) -> Signal:
    return Signal(
        kind=kind, score=score, metrics={"volume": 40}, reason="40 posts/min", fingerprint=fp
    )


def test_same_fingerprint_groups_instead_of_repeating(topic) -> None:
    first, created = services.alert_raise(topic_id=topic.pk, signal=signal())
    again, created_again = services.alert_raise(topic_id=topic.pk, signal=signal(score=5.0))
    assert created and not created_again and first.pk == again.pk
    assert again.count == 2 and again.score == 5.0 and again.last_seen_at >= first.first_seen_at
    assert Alert.objects.count() == 1 and Incident.objects.count() == 1


def test_new_alert_opens_incident_with_evidence_type_and_detection_time(topic) -> None:
    now = timezone.now()
    services.mentions_store(
        items=[
            item("e1", "茶小满被曝用过期原料，谣言还是真的", now),
            item("e2", "茶小满被曝门店被查封", now),
            item("e3", "茶小满喝出异物，投诉", now),
        ],
        now=now - timedelta(seconds=40),
        detect=False,
    )
    ids = list(Mention.objects.values_list("pk", flat=True))
    alert, _ = services.alert_raise(topic_id=topic.pk, signal=signal(), evidence_ids=ids, now=now)
    incident = Incident.objects.get()
    assert alert.incident_id == incident.pk and incident.source == "alert"
    assert incident.crisis_type == "false_information"  # 2 of the 3 evidence posts
    # the clocks start when the first evidence post was stored, not when the alert fired
    assert incident.detected_at == now - timedelta(seconds=40)
    assert incident.milestones.filter(started_at=incident.detected_at).exists()


def test_second_alert_attaches_to_the_open_incident(topic) -> None:
    a, _ = services.alert_raise(topic_id=topic.pk, signal=signal("volume_spike:1"))
    b, _ = services.alert_raise(
        topic_id=topic.pk, signal=signal("negative_surge:1", "negative_surge")
    )
    assert a.incident_id == b.incident_id and Incident.objects.count() == 1
    assert TimelineEvent.objects.filter(incident_id=a.incident_id, kind="alert_attached").exists()
    # closed incident: the next alert opens a new one
    Incident.objects.filter(pk=a.incident_id).update(status="resolved")
    c, _ = services.alert_raise(
        topic_id=topic.pk, signal=signal("sensitive_term:x", "sensitive_term")
    )
    assert c.incident_id not in (None, a.incident_id) and Incident.objects.count() == 2


def test_dismissed_alert_repeats_without_reopening(topic, analyst) -> None:
    alert, _ = services.alert_raise(topic_id=topic.pk, signal=signal())
    Incident.objects.update(status="dismissed")
    services.alert_dismiss(alert=alert, actor=analyst, reason="演习视频，不是真的")
    again, created = services.alert_raise(topic_id=topic.pk, signal=signal())
    assert not created and again.status == "dismissed" and again.count == 2
    assert Incident.objects.count() == 1
    assert [a.dismiss_reason for a in selectors.topic_rule_hints(topic=topic)] == [
        "演习视频，不是真的"
    ]


def test_escalation_writes_its_reason_and_never_lowers(topic) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    services.alert_raise(topic_id=topic.pk, signal=signal(), now=now)
    incident = Incident.objects.get()
    assert incident.severity == "minor"
    DetectorState.objects.update_or_create(topic=topic, defaults={"state": {"neg_mean": 1.0}})
    # the negative posts pile up: 1200 in one minute, reaching 12 million
    TopicBucket.objects.create(
        topic=topic,
        minute=now,
        platform="weibo",
        volume=1500,
        negative=1200,
        reach=20_000_000,
        negative_reach=12_000_000,
    )
    incident = services.incident_refresh_signals(incident_id=incident.pk, now=now)
    assert incident.severity == "severe"
    event = TimelineEvent.objects.get(incident=incident, kind="severity_raised")
    # in the product's language: which signal crossed which threshold, at which level
    assert "负面帖数 1,200 ≥ 1,000（重大）" in event.reason
    assert "覆盖 12,000,000 ≥ 10,000,000（重大）" in event.reason
    # the burst is over, the signals drop: severity stays
    TopicBucket.objects.all().delete()
    incident = services.incident_refresh_signals(
        incident_id=incident.pk, now=now + timedelta(hours=1)
    )
    assert incident.severity == "severe"
    assert TimelineEvent.objects.filter(incident=incident, kind="severity_raised").count() == 1
    # a repeat of the grouped alert refreshes the signals of its incident too
    TopicBucket.objects.create(topic=topic, minute=now, platform="weibo", volume=1, negative=1)
    services.alert_raise(topic_id=topic.pk, signal=signal(), now=now + timedelta(minutes=1))
    assert Incident.objects.get().signals["negative_volume"] == 1


def test_burst_through_ingest_raises_volume_alert_and_opens_incident(topic) -> None:
    """The whole path: a quiet baseline, then a burst stored; detection on the partial
    minute alerts and opens the incident."""
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=90)
    quiet = [
        item(f"q{i}", f"茶小满今天第{i}杯", start + timedelta(minutes=i), author_followers=10)
        for i in range(0, 89, 3)
    ]
    services.mentions_store(items=quiet, now=start + timedelta(minutes=89), detect=False)
    services.topic_detect(topic_id=topic.pk, now=start + timedelta(minutes=89, seconds=30))
    assert not Alert.objects.exists()
    burst_at = start + timedelta(minutes=90, seconds=20)
    burst = [
        item(f"b{i}", f"茶小满门店{i}号喝出异物，投诉！", burst_at, author_name=f"苦主{i}")
        for i in range(40)
    ]
    services.mentions_store(items=burst, now=burst_at)
    alerts = services.topic_detect(topic_id=topic.pk, now=burst_at + timedelta(seconds=5))
    kinds = {a.kind for a in Alert.objects.all()}
    assert "volume_spike" in kinds, (kinds, alerts)
    spike = Alert.objects.get(kind="volume_spike")
    assert spike.evidence.count() > 0 and spike.incident is not None
    assert Incident.objects.filter(status="detected").count() == 1


def test_sensitive_term_alert_lists_every_term_of_its_hour(topic) -> None:
    def hit(terms: list[str], weight: float) -> Signal:
        return Signal(
            kind="sensitive_term",
            score=weight / 3,
            metrics={"weight": weight, "terms": terms},
            reason="sensitive terms",
            fingerprint="sensitive_term:20261124T0200Z",
        )

    first, _ = services.alert_raise(topic_id=topic.pk, signal=hit(["维权"], 4))
    again, created = services.alert_raise(topic_id=topic.pk, signal=hit(["罢工", "维权"], 3))
    assert not created and again.pk == first.pk and again.count == 2
    assert again.metrics == {"weight": 4, "terms": ["维权", "罢工"]}


def test_overlapping_topics_share_one_incident_through_shared_posts(topic) -> None:
    now = timezone.now()
    food = services.topic_create(name="食品安全", query="蟑螂")
    services.mentions_store(
        items=[item(f"s{i}", "茶小满奶茶里喝出蟑螂", now - timedelta(seconds=i)) for i in range(3)],
        now=now,
        detect=False,
    )
    unrelated = services.topic_create(name="天气", query="天气")
    services.mentions_store(items=[item("w", "今天天气很好", now)], now=now, detect=False)
    shared = list(Mention.objects.filter(external_id__startswith="s").values_list("pk", flat=True))
    brand, _ = services.alert_raise(topic_id=topic.pk, signal=signal(), evidence_ids=shared)
    safety, _ = services.alert_raise(
        topic_id=food.pk,
        signal=signal("negative_surge:1", "negative_surge"),
        evidence_ids=shared[1:],
    )
    assert safety.incident_id == brand.incident_id and Incident.objects.count() == 1
    attached = TimelineEvent.objects.get(incident_id=brand.incident_id, kind="alert_attached")
    assert attached.data["topic"] == food.pk
    # no shared post: its own incident
    weather = Mention.objects.get(external_id="w").pk
    other, _ = services.alert_raise(topic_id=unrelated.pk, signal=signal(), evidence_ids=[weather])
    assert other.incident_id != brand.incident_id and Incident.objects.count() == 2


def test_a_batch_raises_each_signal_once_with_its_repeats_counted(topic, monkeypatch) -> None:
    """Forty posts of one batch hitting the same sensitive-term alert (罢工 7 + 维权 6, over
    the threshold of 8) are one repeat of that alert (count 40, every term, up to the
    evidence limit), and the incident's signals are recomputed once for the batch, not once
    per post."""
    now = timezone.now()
    posts = [
        item(f"t{i}", f"茶小满员工罢工维权第{i}天", now - timedelta(seconds=i)) for i in range(40)
    ]
    calls: list[int] = []
    from monitoring.services import alerts

    original = alerts.incident_refresh_signals

    def counting(*, incident_id: int, now=None):
        calls.append(incident_id)
        return original(incident_id=incident_id, now=now)

    monkeypatch.setattr(alerts, "incident_refresh_signals", counting)
    services.mentions_store(items=posts, now=now)
    alert = Alert.objects.get(kind="sensitive_term")
    assert alert.count == 40
    assert set(alert.metrics["terms"]) == {"罢工", "维权"}
    assert alert.evidence.count() == min(40, alerts.MAX_EVIDENCE)
    assert alert.incident_id is not None
    assert calls.count(alert.incident_id) <= 1


def test_batch_refreshes_of_one_incident_are_spaced_out(topic, monkeypatch, settings) -> None:
    """During a burst an incident's signals are recomputed at most once per
    MONITORING_SIGNALS_REFRESH_SECONDS per process; a new alert refreshes at once."""
    from monitoring.services import alerts

    settings.MONITORING_SIGNALS_REFRESH_SECONDS = 60
    calls: list[int] = []
    original = alerts.incident_refresh_signals

    def counting(*, incident_id: int, now=None):
        calls.append(incident_id)
        return original(incident_id=incident_id, now=now)

    monkeypatch.setattr(alerts, "incident_refresh_signals", counting)
    first = alerts.alerts_raise_batch(signals=[(topic.pk, signal(), [])])
    incident_id = Alert.objects.get().incident_id
    assert first == {incident_id}  # a new alert: refreshed at once
    assert alerts.alerts_raise_batch(signals=[(topic.pk, signal(), [])]) == set()
    assert alerts.alerts_raise_batch(signals=[(topic.pk, signal(), [])]) == set()
    again = alerts.alerts_raise_batch(
        signals=[(topic.pk, signal("negative_surge:1", "negative_surge"), [])]
    )
    assert again == {incident_id}  # a new alert joined it: refreshed at once
    assert calls.count(incident_id) >= 2
    settings.MONITORING_SIGNALS_REFRESH_SECONDS = 0
    assert alerts.alerts_raise_batch(signals=[(topic.pk, signal(), [])]) == {incident_id}
