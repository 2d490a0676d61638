"""Soak the embedded stack exactly as `make run` starts it.

Starts `make run` in a fresh var/ folder on a free port (SQLite, the SQLite queue, web +
worker + beat under the supervisor, the demo seeded and its scenario replaying), then for
``--minutes``:

- pushes ``--batch`` mentions to the demo webhook every ``--interval`` seconds,
- polls /healthz every 2 s and the incident board (logged in as the demo manager) every 3 s,
- watches the supervisor's status file for processes that died.

At the end it stops the stack with SIGTERM and checks what issue #10 asks: no process
died, /healthz said ok throughout (after the first ok), every accepted push was answered
202, and every accepted mention was stored, each payload within a minute of its push
(measured in the database: processed_at - received_at). Prints a JSON report; exits 1 when
a criterion failed.

    .venv/bin/python bench/soak_embedded.py --minutes 10
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_push import free_port, push

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "monitoring" / "scenarios" / "milk_tea_crisis.jsonl"
PASSWORD = "soak-demo-password-42"


def scenario_texts() -> list[str]:
    rows = []
    for line in SCENARIO.read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            rows.append(json.loads(line)["text"])
    return rows


def weibo_texts() -> list[str]:
    """The ~22,000 distinct real Weibo posts that bench_ingest uses."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_ingest import load_texts

    return load_texts()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.port = args.port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.var = Path(args.var or tempfile.mkdtemp(prefix="fenghuo-soak-"))
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.pushes: list[dict[str, Any]] = []
        self.health: list[tuple[float, str, list[str]]] = []
        self.board_ms: list[float] = []
        self.board_errors: list[str] = []
        # Each push: ``--brand-share`` of posts about the demo brand (the scenario's texts,
        # so they match its watch topics, raise alerts and grow the incident), the rest
        # distinct real Weibo posts, as a brand's collector would deliver them.
        self.brand_texts = scenario_texts()
        self.weibo_texts = weibo_texts()
        self.token = ""

    # --- the stack ---------------------------------------------------------------------

    def start(self) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "CELERY_", "SECRET_KEY", "DEBUG"))
        }
        env.update(FENGHUO_VAR_DIR=str(self.var), PORT=str(self.port), DEMO_PASSWORD=PASSWORD)
        self.var.mkdir(parents=True, exist_ok=True)
        self.log = (self.var / "run.log").open("wb")
        self.proc = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status, _ = self.healthz()
            if status == "ok":
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"make run exited early; see {self.var / 'run.log'}")
            time.sleep(2)
        else:
            raise SystemExit(f"the stack did not become healthy; see {self.var / 'run.log'}")
        match = re.search(
            r"bearer token \(shown once\): (\S+)", (self.var / "run.log").read_text("utf-8")
        )
        if not match:
            raise SystemExit("no demo webhook token in the make run output")
        self.token = match.group(1)

    def shutdown(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()

    # --- traffic -----------------------------------------------------------------------

    def healthz(self) -> tuple[str, list[str]]:
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=10) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        except (OSError, ValueError) as exc:
            return "down", [f"{type(exc).__name__}: {exc}"]
        return str(body.get("status")), list(body.get("reasons", []))

    def text(self, n: int, i: int) -> str:
        if i < self.args.batch * self.args.brand_share:
            return f"{self.brand_texts[(n * 7 + i) % len(self.brand_texts)]} #{n}-{i}"
        return self.weibo_texts[(n * self.args.batch + i) % len(self.weibo_texts)]

    def pusher(self) -> None:
        n = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            records = [
                {
                    "external_id": f"soak-{n}-{i}",
                    "platform": "weibo",
                    "text": self.text(n, i),
                    "posted_at": datetime.now().astimezone().isoformat(),
                    "author": {"id": f"soak-u{i % 37}", "name": f"测试用户{i % 37}"},
                    "metrics": {"reposts": i % 5, "comments": i % 3, "likes": i % 11},
                }
                for i in range(self.args.batch)
            ]
            entry = push(self.base, self.token, records, n=n)
            with self.lock:
                self.pushes.append(entry)
            n += 1
            next_at += self.args.interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def health_poller(self) -> None:
        while not self.stop.is_set():
            status, reasons = self.healthz()
            with self.lock:
                self.health.append((time.time(), status, reasons))
            self.stop.wait(2)

    def board_poller(self) -> None:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(f"{self.base}/accounts/login/", timeout=30) as resp:
            resp.read()
        csrf = next(c.value for c in jar if c.name == "csrftoken")
        form = urllib.parse.urlencode(
            {"username": "manager", "password": PASSWORD, "csrfmiddlewaretoken": csrf}
        ).encode()
        request = urllib.request.Request(
            f"{self.base}/accounts/login/", data=form, headers={"Referer": self.base}
        )
        with opener.open(request, timeout=30) as resp:
            resp.read()
        pages = ["/incidents/", "/monitoring/alerts/", "/monitoring/"]
        k = 0
        while not self.stop.is_set():
            path = pages[k % len(pages)]
            k += 1
            started = time.perf_counter()
            try:
                with opener.open(f"{self.base}{path}", timeout=30) as resp:
                    resp.read()
                    if "/accounts/login/" in resp.url:
                        raise RuntimeError("logged out")
                with self.lock:
                    self.board_ms.append((time.perf_counter() - started) * 1000)
            except (OSError, RuntimeError) as exc:
                with self.lock:
                    self.board_errors.append(f"{path}: {exc}")
            self.stop.wait(3)

    # --- results -----------------------------------------------------------------------

    def stored(self) -> dict[str, Any]:
        db = sqlite3.connect(f"file:{self.var / 'fenghuo.sqlite3'}?mode=ro", uri=True, timeout=30)
        try:
            mentions = db.execute(
                "SELECT COUNT(*) FROM monitoring_mention WHERE external_id LIKE 'soak-%'"
            ).fetchone()[0]
            ids = [p["inbox_id"] for p in self.pushes if p.get("inbox_id")]
            rows = []
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += db.execute(
                    f"SELECT status, received_at, processed_at FROM monitoring_rawitem "
                    f"WHERE id IN ({marks})",
                    chunk,
                ).fetchall()
        finally:
            db.close()
        delays = [
            (datetime.fromisoformat(done) - datetime.fromisoformat(received)).total_seconds()
            for status, received, done in rows
            if status == "done" and done
        ]
        not_done = sum(1 for status, _r, _d in rows if status != "done")
        return {"mentions": mentions, "payloads": len(rows), "not_done": not_done, "delays": delays}

    def run(self) -> int:
        started = time.time()
        self.start()
        ready = time.time()
        threads = [
            threading.Thread(target=target, daemon=True)
            for target in (self.pusher, self.health_poller, self.board_poller)
        ]
        for thread in threads:
            thread.start()
        self.stop.wait(self.args.minutes * 60)
        self.stop.set()
        for thread in threads:
            thread.join(60)
        # Let the last pushes drain before judging (they too must be stored within 60 s).
        drain_deadline = time.monotonic() + 90
        while time.monotonic() < drain_deadline and self.stored()["not_done"]:
            time.sleep(2)
        supervisor = json.loads((self.var / "supervisor.json").read_text())
        result = self.stored()
        self.shutdown()

        accepted = [p for p in self.pushes if p.get("status") == 202]
        refused = [p for p in self.pushes if p.get("status") != 202]
        not_ok = [h for h in self.health if h[1] != "ok"]
        restarts = {name: p["restarts"] for name, p in supervisor["processes"].items()}
        delays = result["delays"]
        report = {
            "command": " ".join(sys.argv),
            "minutes": self.args.minutes,
            "batch": self.args.batch,
            "interval": self.args.interval,
            "brand_share": self.args.brand_share,
            "machine": {"cpus": os.cpu_count(), "load_at_end": os.getloadavg()},
            "startup_seconds": round(ready - started, 1),
            "pushes": len(self.pushes),
            "accepted_202": len(accepted),
            "refused": [(p["n"], p["status"]) for p in refused][:20],
            "push_answer_ms_p50": pct([p["answered_ms"] for p in self.pushes], 0.5),
            "push_answer_ms_p95": pct([p["answered_ms"] for p in self.pushes], 0.95),
            "mentions_expected": len(accepted) * self.args.batch,
            "mentions_stored": result["mentions"],
            "payloads_not_done": result["not_done"],
            "store_delay_s_p50": pct(delays, 0.5),
            "store_delay_s_p95": pct(delays, 0.95),
            "store_delay_s_max": round(max(delays), 3) if delays else None,
            "healthz_samples": len(self.health),
            "healthz_not_ok": len(not_ok),
            "healthz_not_ok_reasons": sorted({r for h in not_ok for r in h[2]})[:20],
            "page_requests": len(self.board_ms),
            "page_ms_p50": pct(self.board_ms, 0.5),
            "page_ms_p95": pct(self.board_ms, 0.95),
            "page_errors": self.board_errors[:20],
            "restarts": restarts,
            "supervisor_failure": supervisor.get("failure", ""),
            "var": str(self.var),
        }
        checks = {
            "no process died": not any(restarts.values()) and not supervisor.get("failure"),
            "healthz ok throughout": not not_ok,
            "every push answered 202": not refused,
            "every accepted mention stored": result["mentions"] == report["mentions_expected"]
            and not result["not_done"],
            "each payload stored within 60 s": bool(delays) and max(delays) <= 60,
            "pages answered": not self.board_errors,
        }
        report["checks"] = checks
        report["passed"] = all(checks.values())
        print(json.dumps(report, ensure_ascii=False, indent=2))
        if self.args.report:
            Path(self.args.report).write_text(json.dumps(report, ensure_ascii=False, indent=2))
        return 0 if report["passed"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--batch", type=int, default=100, help="mentions per push")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between pushes")
    parser.add_argument(
        "--brand-share", type=float, default=0.2, help="share of each push about the brand"
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--var", default="", help="var folder (default: a new temp folder)")
    parser.add_argument("--report", default="", help="also write the JSON report here")
    return Soak(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
