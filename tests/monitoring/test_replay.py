"""The replay command and the beat-driven scenario run: posts go through the inbox,
time-shifted to now, each pushed once."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monitoring import services
from monitoring.models import Alert, Mention, RawItem, ScenarioRun, Source
from tests.monitoring.watch_support import nlp_available  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def source() -> Source:
    source, _token = services.source_create(
        name="push", slug="demo-push", kind=Source.Kind.WEBHOOK, platform="weibo"
    )
    return source


def test_replay_command_pushes_every_post_through_the_inbox(source, tmp_path: Path) -> None:
    out = StringIO()
    call_command("replay", "milk_tea_crisis", "--speed", "10000", stdout=out)
    total = len(services.scenario_load(services.scenario_path("milk_tea_crisis")))
    assert f"pushed={total} of {total}" in out.getvalue()
    assert Mention.objects.count() == total
    assert RawItem.objects.filter(source=source, status="done").exists()
    newest = Mention.objects.order_by("-posted_at").first()
    assert abs((newest.posted_at - timezone.now()).total_seconds()) < 60  # time-shifted
    # repost links from the //@ chains survive the id prefix
    assert Mention.objects.exclude(parent_external_id="").exists()
    # again: new posts, not updates of the first run's
    call_command("replay", "milk_tea_crisis", "--speed", "10000", stdout=StringIO())
    assert Mention.objects.count() == 2 * total


def test_replay_command_errors(source, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no scenario"):
        call_command("replay", "nope", stdout=StringIO())
    with pytest.raises(CommandError, match="no source"):
        call_command("replay", "milk_tea_crisis", "--source", "x", stdout=StringIO())
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"offset_seconds": 1, "external_id": "a", "text": "x"}\n{oops\n', encoding="utf-8"
    )
    with pytest.raises(CommandError, match="line 2"):
        call_command("replay", str(bad), stdout=StringIO())


def test_beat_tick_pushes_due_posts_once_and_the_crisis_alerts(
    source, django_capture_on_commit_callbacks
) -> None:
    services.topic_create(name="茶小满", query="茶小满")
    run = services.scenario_run_create(scenario="milk_tea_crisis", source=source)
    start = timezone.now()

    def tick(at):  # the inbox task is enqueued on commit, and runs eagerly here
        with django_capture_on_commit_callbacks(execute=True):
            return services.scenario_runs_advance(now=at)

    assert tick(start) >= 1  # offset 0 is due at once
    assert ScenarioRun.objects.get().status == "running"
    first = Mention.objects.count()
    assert first >= 1
    assert tick(start) == 0  # nothing new is due
    pushed = tick(start + timedelta(seconds=30))
    assert Mention.objects.count() == first + pushed
    tick(start + timedelta(minutes=10))
    run.refresh_from_db()
    assert run.status == "done" and Mention.objects.count() == run.total
    # the rumour from a 236k-follower account with 过期 + 查封 alerted at once
    assert Alert.objects.filter(kind__in=["sensitive_term", "high_reach_negative"]).exists()
