"""Scenario replay: a file of posts pushed into a source's inbox, time-shifted to now.

A scenario is JSON Lines (or a JSON array) of records in the normalized shape
(docs/monitoring.md) with an ``offset_seconds`` instead of ``posted_at``: the post is due
``offset_seconds / speed`` after the run starts and is stamped with that moment. External
ids (and parent/root ids) get the run's prefix, so a scenario replayed twice makes new
posts instead of updating the old ones.

A run is a ``ScenarioRun`` row. ``scenario_run_advance`` pushes the posts that are due
through the inbox (``inbox_receive`` + the same processing as a webhook push); the next
index only moves forward through a conditional UPDATE, so two ticks racing push each post
once. The beat task ``monitoring.scenario_tick`` advances every running run every few
seconds (the demo); ``manage.py replay`` advances one run in its own process.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crisis.errors import InvalidError
from monitoring.models import RawItem, ScenarioRun, Source
from monitoring.services.inbox import inbox_enqueue, inbox_process, inbox_receive

# monitoring/scenarios: the scenarios that ship with the code (the demo's among them).
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


class ScenarioError(InvalidError, ValueError):
    """A scenario file that cannot be replayed (message says which line and why). A refusal
    of the crisis.errors family, and still the ValueError it always was."""


def scenario_path(name: str) -> Path:
    """A path as given, or a scenario of monitoring/scenarios by name (without .jsonl)."""
    given = Path(name)
    if given.is_file():
        return given
    for candidate in (
        SCENARIO_DIR / name,
        SCENARIO_DIR / f"{name}.jsonl",
        SCENARIO_DIR / f"{name}.json",
    ):
        if candidate.is_file():
            return candidate
    raise ScenarioError(f"no scenario {name!r} (looked in {SCENARIO_DIR})")


def scenario_load(path: Path) -> list[dict[str, Any]]:
    """The records of a scenario, by offset. Raises ScenarioError naming the bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    records: list[dict[str, Any]] = []
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{path}: {exc}") from exc
        pairs = list(enumerate(data, start=1))
    else:
        pairs = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                pairs.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise ScenarioError(f"{path}, line {number}: {exc.msg}") from exc
    for number, record in pairs:
        if not isinstance(record, dict):
            raise ScenarioError(f"{path}, line {number}: not a JSON object")
        offset = record.get("offset_seconds")
        if not isinstance(offset, int | float) or isinstance(offset, bool) or offset < 0:
            raise ScenarioError(f"{path}, line {number}: offset_seconds must be a number >= 0")
        if not record.get("external_id") or not record.get("text"):
            raise ScenarioError(f"{path}, line {number}: external_id and text are required")
        records.append(record)
    records.sort(key=lambda r: float(r["offset_seconds"]))
    return records


def scenario_run_create(
    *, scenario: str, source: Source, speed: float = 1.0, start: bool = False
) -> ScenarioRun:
    """Schedule a run; it starts at the first tick (``start`` starts it now)."""
    if speed <= 0:
        raise ScenarioError("speed must be positive")
    records = scenario_load(scenario_path(scenario))
    now = timezone.now()
    return ScenarioRun.objects.create(
        scenario=scenario,
        source=source,
        speed=speed,
        total=len(records),
        status=ScenarioRun.Status.RUNNING if start else ScenarioRun.Status.SCHEDULED,
        started_at=now if start else None,
    )


def _shifted(record: dict[str, Any], run: ScenarioRun, started: datetime) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k != "offset_seconds"}
    prefix = f"run{run.pk}-"
    out["external_id"] = prefix + str(record["external_id"])
    for key in ("parent_id", "root_id"):
        if record.get(key):
            out[key] = prefix + str(record[key])
    moment = started + timedelta(seconds=float(record["offset_seconds"]) / run.speed)
    out["posted_at"] = moment.isoformat()
    return out


def scenario_run_advance(
    *, run_id: int, now: datetime | None = None, process_here: bool = False
) -> int:
    """Push this run's due posts into its source's inbox; returns how many were pushed.

    ``process_here`` processes the payload in this process (the command); otherwise it is
    enqueued for a worker after commit, exactly as a webhook push is.
    """
    now = now or timezone.now()
    ScenarioRun.objects.filter(pk=run_id, status=ScenarioRun.Status.SCHEDULED).update(
        status=ScenarioRun.Status.RUNNING, started_at=now
    )
    run = ScenarioRun.objects.select_related("source").filter(pk=run_id).first()
    if run is None or run.status != ScenarioRun.Status.RUNNING or run.started_at is None:
        return 0
    try:
        records = scenario_load(scenario_path(run.scenario))
    except ScenarioError as exc:
        ScenarioRun.objects.filter(pk=run.pk).update(
            status=ScenarioRun.Status.FAILED, error=str(exc)[:2000], finished_at=now
        )
        return 0
    elapsed = (now - run.started_at).total_seconds() * run.speed
    end = run.next_index
    while end < len(records) and float(records[end]["offset_seconds"]) <= elapsed:
        end += 1
    done = end >= len(records)
    if end == run.next_index and not done:
        return 0
    with transaction.atomic():
        claimed = ScenarioRun.objects.filter(pk=run.pk, next_index=run.next_index).update(
            next_index=end,
            status=ScenarioRun.Status.DONE if done else ScenarioRun.Status.RUNNING,
            finished_at=now if done else None,
        )
        if not claimed or end == run.next_index:
            return 0
        batch = [_shifted(r, run, run.started_at) for r in records[run.next_index : end]]
        body = json.dumps({"items": batch}, ensure_ascii=False).encode("utf-8")
        raw = inbox_receive(
            body=body,
            channel=RawItem.Channel.WEBHOOK,
            source=run.source,
            content_type="application/json",
        )
        if not process_here:
            inbox_enqueue(raw_item=raw)
    if process_here:
        inbox_process(raw_item_id=raw.pk)
    return len(batch)


def scenario_runs_advance(*, now: datetime | None = None) -> int:
    pushed = 0
    for run_id in ScenarioRun.objects.filter(
        Q(status=ScenarioRun.Status.RUNNING) | Q(status=ScenarioRun.Status.SCHEDULED)
    ).values_list("pk", flat=True):
        pushed += scenario_run_advance(run_id=run_id, now=now)
    return pushed


def scenario_next_due(*, run: ScenarioRun) -> float | None:
    """Seconds until the run's next post is due, or None when it is finished."""
    run.refresh_from_db()
    if run.status != ScenarioRun.Status.RUNNING or run.started_at is None:
        return None
    records = scenario_load(scenario_path(run.scenario))
    if run.next_index >= len(records):
        return None
    due = run.started_at + timedelta(
        seconds=float(records[run.next_index]["offset_seconds"]) / run.speed
    )
    return max(0.0, (due - timezone.now()).total_seconds())
