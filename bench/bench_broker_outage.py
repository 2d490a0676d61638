"""Pushes during a Redis outage, on the production stack (PostgreSQL + Redis).

Starts a private redis-server on a free port (the machine's own Redis is not touched), a
fresh PostgreSQL database, and web (gunicorn) + worker + beat from the Procfile under the
supervisor, seeded with the demo. Then it pushes ``--batch`` distinct mentions every
``--interval`` seconds to the demo webhook: ``--before`` seconds with Redis up, ``--outage``
seconds with Redis stopped, ``--after`` seconds with Redis back. Redis runs without
persistence, so the messages it held are lost with it, as on a real crash.

It reports what issue #10 asks: every push answered 202, every mention stored exactly
once, and how soon after Redis returned the inbox was drained (the last payload received
during the outage processed). Exits 1 when a push was refused, a mention is missing or
doubled, or the drain took longer than ``--drain-limit`` seconds.

    .venv/bin/python bench/bench_broker_outage.py --outage 60
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_push import free_port, push

REPO = Path(__file__).resolve().parent.parent
DB_NAME = "fenghuo_bench_outage"
PG = "postgres://postgres@127.0.0.1:5432"
PASSWORD = "outage-demo-password-42"


def pg(sql: str, *params: Any, db: str = DB_NAME) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=db)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


class Redis:
    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class Outage:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.var = Path(tempfile.mkdtemp(prefix="fenghuo-outage-"))
        self.redis = Redis(free_port(), self.var)
        self.pushes: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stop_pushing = threading.Event()
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_ingest import load_texts

        self.texts = load_texts()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DEBUG"))}
        env.update(
            DATABASE_URL=f"{PG}/{DB_NAME}",
            CELERY_BROKER_URL=f"redis://127.0.0.1:{self.redis.port}/0",
            SECRET_KEY="bench-outage-secret-key-0123456789-abcdefghijklmnop",
            FENGHUO_VAR_DIR=str(self.var),
            PORT=str(self.port),
            DEMO_PASSWORD=PASSWORD,
            STATIC_MANIFEST="0",
            WHITENOISE_USE_FINDERS="1",
            PYTHONUNBUFFERED="1",
        )
        return env

    def setup(self) -> None:
        pg(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", db="postgres")
        pg(f"CREATE DATABASE {DB_NAME}", db="postgres")
        self.redis.start()
        py = str(REPO / ".venv" / "bin" / "python")
        subprocess.run([py, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO,
                       env=self.env(), check=True)  # fmt: skip
        seeded = subprocess.run([py, "manage.py", "seed_demo"], cwd=REPO, env=self.env(),
                                check=True, capture_output=True, text=True)  # fmt: skip
        match = re.search(r"bearer token \(shown once\): (\S+)", seeded.stdout)
        if not match:
            raise SystemExit("no demo webhook token in seed_demo's output")
        self.token = match.group(1)
        self.log = (self.var / "stack.log").open("wb")
        env = self.env()
        env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}"
        self.stack = subprocess.Popen(
            [py, "-m", "crisis.supervise", "-f", "Procfile", "--status",
             str(self.var / "supervisor.json")],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.health() == "ok":
                return
            time.sleep(2)
        raise SystemExit(f"the stack did not become healthy; see {self.var / 'stack.log'}")

    def health(self) -> str:
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=10) as resp:
                return str(json.loads(resp.read())["status"])
        except urllib.error.HTTPError as exc:
            return str(json.loads(exc.read() or b"{}").get("status"))
        except (OSError, ValueError):
            return "down"

    def pusher(self) -> None:
        n, next_at = 0, time.monotonic()
        while not self.stop_pushing.is_set():
            records = [
                {
                    "external_id": f"outage-{n}-{i}",
                    "platform": "weibo",
                    "text": self.texts[(n * self.args.batch + i) % len(self.texts)],
                    "posted_at": datetime.now().astimezone().isoformat(),
                    "author": {"id": f"o{i % 50}", "name": f"网友{i % 50}"},
                }
                for i in range(self.args.batch)
            ]
            entry = push(self.base, self.token, records, n=n, phase=self.phase)
            with self.lock:
                self.pushes.append(entry)
            n += 1
            next_at += self.args.interval
            self.stop_pushing.wait(max(0.0, next_at - time.monotonic()))

    def run(self) -> int:
        self.phase = "before"
        self.setup()
        thread = threading.Thread(target=self.pusher, daemon=True)
        thread.start()
        time.sleep(self.args.before)
        self.phase = "outage"
        self.redis.stop()
        down_at = time.time()
        time.sleep(self.args.outage)
        self.redis.start()
        up_at = time.time()
        self.phase = "after"
        time.sleep(self.args.after)
        self.stop_pushing.set()
        thread.join(60)

        outage_ids = [
            p["inbox_id"] for p in self.pushes if p["phase"] == "outage" and p.get("inbox_id")
        ]
        all_ids = [p["inbox_id"] for p in self.pushes if p.get("inbox_id")]
        deadline = time.monotonic() + self.args.drain_limit + 120
        while time.monotonic() < deadline:
            left = pg("SELECT COUNT(*) FROM monitoring_rawitem WHERE id = ANY(%s) "
                      "AND status <> 'done'", all_ids)[0][0]  # fmt: skip
            if not left:
                break
            time.sleep(2)
        outage_done = pg("SELECT MAX(processed_at) FROM monitoring_rawitem WHERE id = ANY(%s)",
                         outage_ids)[0][0]  # fmt: skip
        stored, distinct = pg(
            "SELECT COUNT(*), COUNT(DISTINCT external_id) FROM monitoring_mention "
            "WHERE external_id LIKE 'outage-%%'"
        )[0]
        not_done = pg("SELECT status, COUNT(*) FROM monitoring_rawitem WHERE id = ANY(%s) "
                      "AND status <> 'done' GROUP BY status", all_ids)  # fmt: skip
        supervisor = json.loads((self.var / "supervisor.json").read_text())
        self.stack.send_signal(signal.SIGTERM)
        try:
            self.stack.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.stack.pid, signal.SIGKILL)
        self.log.close()
        self.redis.stop()
        log = (self.var / "stack.log").read_text(errors="replace")

        accepted = [p for p in self.pushes if p.get("status") == 202]
        refused = [(p["n"], p["phase"], p["status"]) for p in self.pushes if p.get("status") != 202]
        during = [p["answered_ms"] for p in self.pushes if p["phase"] == "outage"]
        drained = outage_done.timestamp() - up_at if outage_done else None
        report = {
            "command": " ".join(sys.argv),
            "outage_seconds": round(up_at - down_at, 1),
            "pushes": len(self.pushes),
            "pushes_during_outage": len(outage_ids),
            "accepted_202": len(accepted),
            "refused": refused[:20],
            "answer_ms_during_outage_max": max(during) if during else None,
            "mentions_expected": len(accepted) * self.args.batch,
            "mentions_stored": stored,
            "mentions_distinct": distinct,
            "payloads_not_done": not_done,
            "drained_seconds_after_redis_returned": round(drained, 1)
            if drained is not None
            else None,
            "broker_unreachable_log_lines": log.count("broker unreachable"),
            "restarts": {k: v["restarts"] for k, v in supervisor["processes"].items()},
            "var": str(self.var),
        }
        checks = {
            "every push answered 202": not refused,
            "every mention stored exactly once": stored == distinct == report["mentions_expected"],
            "drained within the limit": drained is not None and drained <= self.args.drain_limit,
        }
        report["checks"] = checks
        report["passed"] = all(checks.values())
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        if self.args.report:
            Path(self.args.report).write_text(
                json.dumps(report, ensure_ascii=False, indent=2, default=str)
            )
        pg(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", db="postgres")
        return 0 if report["passed"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--before", type=float, default=30)
    parser.add_argument("--outage", type=float, default=60)
    parser.add_argument("--after", type=float, default=60)
    parser.add_argument("--drain-limit", type=float, default=60)
    parser.add_argument("--report", default="")
    return Outage(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
