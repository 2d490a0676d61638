"""Monitoring's Celery tasks. Each takes ids, re-fetches, and is safe to run twice."""

from __future__ import annotations

import gc
from typing import Any

from celery import shared_task
from celery.signals import worker_init

from monitoring import services


@worker_init.connect
def load_models_before_work(**_kwargs: Any) -> None:
    """Load the NLP model and dictionaries in the worker's main process, before the pool
    forks, so the first payload does not wait for them and the children share them. Then
    move everything loaded so far out of the garbage collector's sight: the dictionaries are
    millions of long-lived objects that each full collection would otherwise walk again
    (measured: about a fifth of ingest time; docs/benchmarks.md)."""
    from monitoring import nlp

    nlp.warm_up()
    gc.freeze()


@shared_task(name="monitoring.inbox_process", ignore_result=True, acks_late=True)
def inbox_process(raw_item_id: int) -> None:
    """Store the mentions of one inbox payload. A duplicate delivery finds the payload
    claimed or done and returns; a crash leaves the claim to expire and the sweep below
    enqueues it again."""
    services.inbox_process(raw_item_id=raw_item_id)


@shared_task(name="monitoring.inbox_sweep", ignore_result=True)
def inbox_sweep() -> int:
    """Re-enqueue payloads whose task was lost (broker restart) or whose worker died."""
    ids = services.inbox_stale_ids()
    for raw_item_id in ids:
        inbox_process.delay(raw_item_id)
    return len(ids)


@shared_task(name="monitoring.sources_dispatch", ignore_result=True)
def sources_dispatch() -> int:
    """Claim each due polled source (one lease per source) and enqueue its poll."""
    claimed = services.sources_claim_due()
    for source_id, token in claimed:
        source_poll.delay(source_id, token)
    return len(claimed)


@shared_task(name="monitoring.source_poll", ignore_result=True)
def source_poll(source_id: int, token: str) -> None:
    """Fetch one source under its lease token; a stale or duplicate delivery does nothing."""
    services.source_poll(source_id=source_id, token=token)


@shared_task(name="monitoring.topics_detect", ignore_result=True)
def topics_detect(topic_ids: list[int]) -> int:
    """Detection of the topics a stored batch touched: the minute in progress is judged at
    once, so a burst alerts within seconds of its posts being stored."""
    count = 0
    for topic_id in topic_ids:
        count += len(services.topic_detect(topic_id=int(topic_id)))
    return count


@shared_task(name="monitoring.detection_tick", ignore_result=True)
def detection_tick() -> int:
    """Every topic, every few seconds: closes quiet minutes (the baseline learns silence too)
    and judges the minute in progress."""
    return len(services.topics_detect_due())


@shared_task(name="monitoring.incident_signals_refresh", ignore_result=True)
def incident_signals_refresh() -> int:
    """Recompute the signals of open incidents that came from alerts (severity escalates)."""
    return services.incidents_refresh_open()


@shared_task(name="monitoring.propagation_refresh", ignore_result=True)
def propagation_refresh(incident_id: int | None = None) -> int:
    """Rebuild the stored propagation summary of one incident, or of every open one."""
    if incident_id is not None:
        return int(services.incident_propagation_refresh(incident_id=incident_id) is not None)
    return services.propagations_refresh_open()


@shared_task(name="monitoring.scenario_tick", ignore_result=True)
def scenario_tick() -> int:
    """Push the due posts of running scenario replays into their sources' inboxes."""
    return services.scenario_runs_advance()


# Periodic work of this app, collected by crisis/celery.py.
BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Every 2 s, so a polled source is fetched within 2 s of falling due: the detection target
    # for polled feeds is one interval + 5 s. The due query is one indexed lookup.
    "monitoring-sources-dispatch": {
        "task": "monitoring.sources_dispatch",
        "schedule": 2.0,
        "options": {"expires": 2},
    },
    "monitoring-detection-tick": {
        "task": "monitoring.detection_tick",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    "monitoring-incident-signals": {
        "task": "monitoring.incident_signals_refresh",
        "schedule": 15.0,
        "options": {"expires": 15},
    },
    "monitoring-propagation": {
        "task": "monitoring.propagation_refresh",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "monitoring-scenario-tick": {
        "task": "monitoring.scenario_tick",
        "schedule": 3.0,
        "options": {"expires": 3},
    },
    # Every 10 s: after a broker outage, payloads stored meanwhile (pending for 30 s) are
    # sent within about 40 s of the broker's return (docs/benchmarks.md, broker outage).
    "monitoring-inbox-sweep": {
        "task": "monitoring.inbox_sweep",
        "schedule": 10.0,
        "options": {"expires": 10},
    },
}
