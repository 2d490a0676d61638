"""A real worker SIGKILLed in the middle of a payload, then a new one: every item once."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest
from django.db.models import Sum

from monitoring import services, tasks
from monitoring.models import Mention, MentionCluster, RawItem
from tests.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

TOTAL = 12_000


def payload() -> bytes:
    lines = []
    for i in range(TOTAL):
        # every 10th text is a copy, so clusters are exercised too
        text = f"茶小满第{i % 1000 if i % 10 else 0}号门店的奶茶，今天排队{i}分钟"
        if i % 10 == 0:
            text = "茶小满门店卫生有问题，大家别去了！"
        lines.append(
            json.dumps(
                {
                    "external_id": f"k{i}",
                    "platform": "weibo",
                    "text": text,
                    "posted_at": "2026-11-24T10:00:00+08:00",
                    "author": {"id": f"a{i}", "name": f"用户{i}"},
                    "metrics": {"likes": i},
                },
                ensure_ascii=False,
            )
        )
    return "\n".join(lines).encode("utf-8")


def test_killed_worker_mid_batch_then_restart_stores_each_item_once(
    celery_worker_process: Any, require_postgres: None
) -> None:
    raw = services.inbox_receive(body=payload(), channel=RawItem.Channel.WEBHOOK)
    env = {"INBOX_CHUNK_SIZE": "200", "INBOX_CLAIM_TIMEOUT": "3"}
    worker = celery_worker_process(**env)
    tasks.inbox_process.delay(raw.pk)

    assert wait_until(lambda: Mention.objects.count() > 0, timeout=90), worker.output()
    worker.stop(signal.SIGKILL)
    stored_at_kill = Mention.objects.count()
    raw.refresh_from_db()
    assert stored_at_kill < TOTAL, "the worker finished before it could be killed"
    assert raw.status == RawItem.Status.PROCESSING

    second = celery_worker_process(**env)

    # The killed task's message is not redelivered before the broker's visibility timeout;
    # the inbox sweep (a beat task) finds the payload whose claim expired.
    def swept_and_done() -> bool:
        raw.refresh_from_db()
        if raw.status == RawItem.Status.DONE:
            return True
        tasks.inbox_sweep.delay()
        return False

    assert wait_until(swept_and_done, timeout=180, interval=2.0), second.output()
    assert Mention.objects.count() == TOTAL
    assert Mention.objects.values("external_id").distinct().count() == TOTAL
    assert raw.attempts >= 2
    assert raw.created_count + raw.unchanged_count + raw.updated_count == TOTAL
    # cluster sizes were counted in the same transactions as the inserts: no double counting
    clustered = Mention.objects.filter(cluster__isnull=False).count()
    assert MentionCluster.objects.aggregate(total=Sum("size"))["total"] == clustered
    copies = Mention.objects.filter(text="茶小满门店卫生有问题，大家别去了！")
    assert copies.values("cluster_id").distinct().count() == 1
