"""The embedded broker: a Kombu transport that keeps its queue in an SQLite file.

``make run`` needs nothing but Python, so the embedded stack cannot assume a Redis server.
Kombu's filesystem transport, the obvious choice, is not safe: a producer writes the message
file in place while a consumer may already be moving and reading it, and the worker dies on
the half-written JSON (kombu issue 1551; it killed ``make run`` within minutes). Here every
operation is an SQLite transaction, so a consumer sees a message whole or not at all.

Semantics follow the Redis transport that production uses:

- ``_put`` inserts a row; ``_get`` claims the oldest unclaimed row of the queue in one
  ``BEGIN IMMEDIATE`` transaction (so two consumers never claim the same row) and returns it.
- A claimed row stays until the consumer acknowledges it (then it is deleted) or gives it
  back (reject with requeue, or a clean shutdown restoring unacknowledged messages: the claim
  is cleared and the row is delivered again, in its original place).
- A consumer that dies without giving its messages back (SIGKILL, power loss) leaves claims
  behind. They are cleared when the process that holds them is gone (checked by pid on this
  host, every few seconds while consumers poll) or, as a last resort, after
  ``visibility_timeout`` seconds. Tasks are idempotent, so a redelivery is harmless.
- A row whose payload cannot be decoded is moved to a ``dead_letter`` table and logged; it
  never reaches, or stops, the worker.

There is no fanout exchange (no broadcast), so Celery runs without remote control, as it
does for other transports without fanout. One file serves any number of producer and
consumer processes on one machine; it is not meant for several machines (use Redis).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.transport import virtual

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    tag TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    claimed_at REAL,
    claimed_by TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS message_ready ON message (queue, claimed_at, id);
CREATE INDEX IF NOT EXISTS message_tag ON message (tag);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    error TEXT NOT NULL,
    moved_at REAL NOT NULL
);
"""

DEFAULT_VISIBILITY_TIMEOUT = 3600.0
# How often a polling consumer looks for claims left by processes that died.
RECLAIM_INTERVAL = 5.0

_HOST = socket.gethostname()
# Connections opened before a fork must never be used, nor closed, in the child (SQLite's
# rule); they are parked here so the garbage collector does not close them either.
_inherited: list[sqlite3.Connection] = []


def _consumer_id() -> str:
    return f"{_HOST}:{os.getpid()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open the queue file (creating it and its folder) in autocommit mode with WAL."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(SCHEMA)
    return conn


class QoS(virtual.QoS):
    """Acknowledging deletes the claimed row; the base class keeps the in-memory state."""

    channel: Channel

    def ack(self, delivery_tag: str) -> None:
        self.channel._ack(delivery_tag)
        super().ack(delivery_tag)


class Channel(virtual.Channel):
    QoS = QoS
    supports_fanout = False
    do_restore = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        client = self.connection.client if self.connection is not None else None
        options: dict[str, Any] = dict(getattr(client, "transport_options", None) or {})
        self.path = options.get("path") or "broker.sqlite3"
        self.visibility_timeout = float(
            options.get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT)
        )
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._conn_pid = 0
        self._noack_queues: set[str] = set()
        self._next_reclaim = 0.0
        self._db  # noqa: B018 - open the file now, so a bad path fails at connect

    @property
    def _db(self) -> sqlite3.Connection:
        pid = os.getpid()
        if self._conn is not None and self._conn_pid != pid:
            _inherited.append(self._conn)
            self._conn = None
        if self._conn is None:
            self._conn = connect(self.path)
            self._conn_pid = pid
        return self._conn

    # --- what the virtual transport asks of a channel ----------------------------------

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        """Queues exist implicitly, as the rows that name them."""

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return True

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        tag = str(message.get("properties", {}).get("delivery_tag") or "")
        payload = json.dumps(message)
        with self._lock:
            self._db.execute(
                "INSERT INTO message (queue, tag, payload, created_at) VALUES (?, ?, ?, ?)",
                (queue, tag, payload, time.time()),
            )

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        now = time.time()
        if now >= self._next_reclaim:
            self._next_reclaim = now + RECLAIM_INTERVAL
            self.reclaim_orphans(now=now)
        while True:
            row = self._claim(queue, now=time.time())
            if row is None:
                raise Empty()
            row_id, payload = row
            try:
                message = json.loads(payload)
                if not isinstance(message, dict):
                    raise ValueError("a message must be a JSON object")
            except ValueError as exc:
                self._bury(row_id, queue, payload, exc)
                continue
            return message

    def _claim(self, queue: str, *, now: float) -> tuple[int, str] | None:
        noack = queue in self._noack_queues
        with self._lock:
            conn = self._db
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT id, payload FROM message WHERE queue = ? AND claimed_at IS NULL "
                    "ORDER BY id LIMIT 1",
                    (queue,),
                ).fetchone()
                if row is not None:
                    if noack:
                        conn.execute("DELETE FROM message WHERE id = ?", (row[0],))
                    else:
                        conn.execute(
                            "UPDATE message SET claimed_at = ?, claimed_by = ?, "
                            "deliveries = deliveries + 1 WHERE id = ?",
                            (now, _consumer_id(), row[0]),
                        )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return (int(row[0]), str(row[1])) if row is not None else None

    def _bury(self, row_id: int, queue: str, payload: str, exc: Exception) -> None:
        logger.error(
            "broker: message %s in queue %s is not valid JSON (%s); moved to dead_letter",
            row_id,
            queue,
            exc,
        )
        with self._lock:
            conn = self._db
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT OR REPLACE INTO dead_letter (id, queue, payload, error, moved_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (row_id, queue, payload, str(exc)[:1000], time.time()),
                )
                conn.execute("DELETE FROM message WHERE id = ?", (row_id,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _ack(self, delivery_tag: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM message WHERE tag = ?", (str(delivery_tag),))

    def _restore(self, message: Any) -> None:
        """Give a delivered message back: clear its claim, so it is delivered again in its
        original place. (The base class would publish a copy instead.)"""
        with self._lock:
            self._db.execute(
                "UPDATE message SET claimed_at = NULL, claimed_by = NULL WHERE tag = ?",
                (str(message.delivery_tag),),
            )

    def _restore_at_beginning(self, message: Any) -> None:
        self._restore(message)

    def _purge(self, queue: str) -> int:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM message WHERE queue = ? AND claimed_at IS NULL", (queue,)
            )
        return int(cursor.rowcount)

    def _size(self, queue: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM message WHERE queue = ? AND claimed_at IS NULL", (queue,)
            ).fetchone()
        return int(row[0])

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        super()._delete(queue, *args, **kwargs)
        with self._lock:
            self._db.execute("DELETE FROM message WHERE queue = ?", (queue,))

    def basic_consume(
        self, queue: str, no_ack: bool, callback: Any, consumer_tag: str | None, **kwargs: Any
    ) -> Any:
        if no_ack:
            self._noack_queues.add(queue)
        else:
            self._noack_queues.discard(queue)
        # A consumer that starts is the moment to give back what a dead one held.
        self.reclaim_orphans()
        return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        if no_ack:
            self._noack_queues.add(queue)
        try:
            return super().basic_get(queue, no_ack=no_ack, **kwargs)
        finally:
            if no_ack:
                self._noack_queues.discard(queue)

    # --- recovery ------------------------------------------------------------------------

    def reclaim_orphans(self, *, now: float | None = None) -> int:
        """Clear claims held by processes on this host that are gone, and claims older than
        the visibility timeout. Returns how many messages became deliverable again."""
        now = time.time() if now is None else now
        with self._lock:
            conn = self._db
            holders = [
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT claimed_by FROM message WHERE claimed_by IS NOT NULL"
                )
            ]
            dead = []
            for holder in holders:
                host, _, pid = str(holder).rpartition(":")
                if host == _HOST and pid.isdigit() and not _process_alive(int(pid)):
                    dead.append(holder)
            count = 0
            for holder in dead:
                count += conn.execute(
                    "UPDATE message SET claimed_at = NULL, claimed_by = NULL WHERE claimed_by = ?",
                    (holder,),
                ).rowcount
            count += conn.execute(
                "UPDATE message SET claimed_at = NULL, claimed_by = NULL "
                "WHERE claimed_at IS NOT NULL AND claimed_at < ?",
                (now - self.visibility_timeout,),
            ).rowcount
        if count:
            logger.warning(
                "broker: %d message(s) held by a consumer that is gone are delivered again",
                count,
            )
        return count

    def close(self) -> None:
        super().close()  # restores unacknowledged messages through _restore
        with self._lock:
            if self._conn is not None and self._conn_pid == os.getpid():
                self._conn.close()
            self._conn = None


class Transport(virtual.Transport):
    Channel = Channel
    driver_type = "sqlite"
    driver_name = "sqlite3"
    default_port = 0
    # Poll the file this often when the queue is empty (seconds; transport option
    # ``polling_interval`` overrides it).
    polling_interval = 0.2
    implements = virtual.Transport.implements.extend(
        asynchronous=False,
        exchange_type=frozenset(["direct", "topic"]),
        heartbeats=False,
    )

    @property
    def default_connection_params(self) -> dict[str, Any]:
        # No host: the queue is a local file (this also keeps Kombu from warning about it).
        return {"port": None, "hostname": None}

    def driver_version(self) -> str:
        return sqlite3.sqlite_version


def queue_stats(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Counts for /healthz and the soak benchmark: ready and claimed messages, the age of
    the oldest ready one, and dead letters."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        now = time.time()
        ready, oldest = conn.execute(
            "SELECT COUNT(*), MIN(created_at) FROM message WHERE claimed_at IS NULL"
        ).fetchone()
        claimed = conn.execute(
            "SELECT COUNT(*) FROM message WHERE claimed_at IS NOT NULL"
        ).fetchone()[0]
        dead = conn.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0]
    finally:
        conn.close()
    return {
        "ready": int(ready),
        "claimed": int(claimed),
        "oldest_ready_seconds": round(now - oldest, 1) if oldest is not None else None,
        "dead_letters": int(dead),
    }
