"""The embedded broker (crisis/broker.py): whole messages only, exactly once, nothing lost
when a consumer dies, and why Kombu's filesystem transport was replaced."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue

import crisis.celery  # noqa: F401 - registers the sqlite:// transport alias
from crisis.broker import queue_stats

QUEUE = Queue("jobs", Exchange("jobs", "direct"), routing_key="jobs")


def _connection(path: Path) -> Connection:
    return Connection("sqlite://", transport_options={"path": str(path), "polling_interval": 0.01})


def _drain(conn: Connection, *, expect: int, ack: bool = True, within: float = 90) -> list[Any]:
    """Consume until ``expect`` messages came or ``within`` seconds passed."""
    received: list[Any] = []

    def on_message(body: Any, message: Any) -> None:
        received.append(body)
        if ack:
            message.ack()

    deadline = time.monotonic() + within
    with conn.Consumer(QUEUE, callbacks=[on_message]):
        while len(received) < expect and time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=1)
            except TimeoutError:
                continue
    return received


def test_filesystem_transport_as_shipped_dies_on_a_half_written_message(tmp_path: Path) -> None:
    """The bug that killed `make run`: Kombu's filesystem transport hands a consumer a file
    its producer has not finished writing, and the JSON error escapes into the worker."""
    folder = tmp_path / "queue"
    folder.mkdir()
    conn = Connection(
        "filesystem://",
        transport_options={"data_folder_in": str(folder), "data_folder_out": str(folder)},
    )
    channel = conn.default_channel
    # What a producer leaves on disk between open() and the end of write(): the consumer
    # lists, moves and reads it just the same.
    (folder / f"1_00000000-0000-0000-0000-000000000000.{QUEUE.name}.msg").write_bytes(b"")
    with pytest.raises(json.JSONDecodeError):
        channel._get(QUEUE.name)
    conn.release()


def test_settings_refuse_the_filesystem_transport() -> None:
    env = {**os.environ, "CELERY_BROKER_URL": "filesystem://", "DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; from django.conf import settings; settings.DEBUG"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "filesystem:// is not supported" in result.stderr


def test_messages_round_trip_in_order_and_are_deleted_on_ack(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with _connection(path) as conn:
        producer = conn.Producer()
        for i in range(20):
            producer.publish({"i": i}, exchange=QUEUE.exchange, routing_key="jobs", declare=[QUEUE])
        assert [body["i"] for body in _drain(conn, expect=20)] == list(range(20))
    assert queue_stats(path) == {
        "ready": 0,
        "claimed": 0,
        "oldest_ready_seconds": None,
        "dead_letters": 0,
    }


def _produce(path: str, worker: int, count: int) -> None:
    with _connection(Path(path)) as conn:
        producer = conn.Producer()
        for i in range(count):
            # A large body: a torn write would show up as broken JSON.
            producer.publish(
                {"worker": worker, "i": i, "pad": "烽" * 20_000},
                exchange=QUEUE.exchange,
                routing_key="jobs",
                declare=[QUEUE],
            )


def test_concurrent_producers_and_consumer_see_every_message_whole_exactly_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.sqlite3"
    producers, per_producer = 4, 60
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_produce, args=(str(path), n, per_producer)) for n in range(producers)
    ]
    for proc in procs:
        proc.start()
    with _connection(path) as conn:
        received = _drain(conn, expect=producers * per_producer)
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert sorted((m["worker"], m["i"]) for m in received) == sorted(
        (w, i) for w in range(producers) for i in range(per_producer)
    )
    assert all(len(m["pad"]) == 20_000 for m in received)


def test_an_undecodable_row_goes_to_dead_letters_and_the_consumer_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with _connection(path) as conn:
        producer = conn.Producer()
        producer.publish({"i": 1}, exchange=QUEUE.exchange, routing_key="jobs", declare=[QUEUE])
        raw = sqlite3.connect(path)
        raw.execute(
            "INSERT INTO message (queue, tag, payload, created_at) VALUES ('jobs', 'x', '{', 0)"
        )
        raw.commit()
        raw.close()
        producer.publish({"i": 2}, exchange=QUEUE.exchange, routing_key="jobs", declare=[QUEUE])
        assert [m["i"] for m in _drain(conn, expect=2)] == [1, 2]
    stats = queue_stats(path)
    assert stats["dead_letters"] == 1
    assert stats["ready"] == 0


def test_a_message_given_back_unacknowledged_is_delivered_again(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with _connection(path) as conn:
        conn.Producer().publish(
            {"i": 7}, exchange=QUEUE.exchange, routing_key="jobs", declare=[QUEUE]
        )
        assert _drain(conn, expect=1, ack=False) == [{"i": 7}]
    # Closing the connection restored the unacknowledged message, in place.
    assert queue_stats(path)["ready"] == 1
    with _connection(path) as conn:
        assert _drain(conn, expect=1) == [{"i": 7}]
    assert queue_stats(path)["ready"] == 0


_CLAIM_AND_HANG = textwrap.dedent(
    """
    import sys, time
    import crisis.celery
    from kombu import Connection, Exchange, Queue
    queue = Queue("jobs", Exchange("jobs", "direct"), routing_key="jobs")
    with Connection("sqlite://", transport_options={"path": sys.argv[1]}) as conn:
        def on_message(body, message):
            print("claimed", body, flush=True)
            time.sleep(600)
        with conn.Consumer(queue, callbacks=[on_message]):
            conn.drain_events(timeout=30)
    """
)


def test_messages_held_by_a_killed_consumer_are_delivered_to_the_next(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with _connection(path) as conn:
        conn.Producer().publish(
            {"i": 9}, exchange=QUEUE.exchange, routing_key="jobs", declare=[QUEUE]
        )
    holder = subprocess.Popen(
        [sys.executable, "-c", _CLAIM_AND_HANG, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DEBUG": "1"},
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().startswith("claimed")
    assert queue_stats(path)["claimed"] == 1
    holder.send_signal(signal.SIGKILL)
    holder.wait(30)
    # A new consumer gives back what the dead process held when it starts consuming.
    with _connection(path) as conn:
        assert _drain(conn, expect=1) == [{"i": 9}]
    assert queue_stats(path) == {
        "ready": 0,
        "claimed": 0,
        "oldest_ready_seconds": None,
        "dead_letters": 0,
    }
