"""`make run` in a temporary directory with the embedded defaults: SQLite and the
SQLite queue, web + worker + beat under crisis/supervise.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, free_port, wait_until

pytestmark = pytest.mark.slow

_SERVICE_VARS = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "DEBUG",
    "SECRET_KEY",
    "TEST_DATABASE_NAME",
    "CELERY_TASK_ALWAYS_EAGER",
    "CELERY_QUEUE",
    "STATIC_MANIFEST",
    "WHITENOISE_USE_FINDERS",
    "EMAIL_BACKEND",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "FENGHUO_VAR_DIR",
}


def _health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())
    except (OSError, ValueError):
        return None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_run_brings_up_web_worker_beat_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_VARS}
    env.update(FENGHUO_VAR_DIR=str(tmp_path / "var"), PORT=str(port), DEMO_PASSWORD="demo-pass-42")
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = lambda: (tmp_path / "run.log").read_text(errors="replace")  # noqa: E731
    try:

        def all_ok() -> bool:
            body = _health(port)
            return bool(body) and body["status"] == "ok"

        assert wait_until(all_ok, timeout=120, interval=1), output()
        body = _health(port)
        assert body is not None
        assert {name: c["ok"] for name, c in body["checks"].items()} == {
            "database": True,
            "broker": True,
            "worker": True,
            "beat": True,
            "queue": True,
            "inbox": True,
        }
        assert body["checks"]["database"]["detail"] == "sqlite"
        assert body["checks"]["broker"]["detail"] == "sqlite"
        assert (tmp_path / "var" / "broker" / "queue.sqlite3").exists()
        assert (tmp_path / "var" / "fenghuo.sqlite3").exists()
        assert "Demo users created" in output()

        # The login page is served with its static files by the same process.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as r:
            assert "登录烽火" in r.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            stopped = wait_until(lambda: not _group_alive(proc.pid), timeout=30)
            if not stopped:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
    assert stopped, "processes were left running after SIGTERM:\n" + output()
    assert _health(port) is None  # nothing answers on the port any more


def test_second_start_keeps_the_demo_data(tmp_path: Path) -> None:
    """First start seeds the demo; a marker keeps later starts from seeding again."""
    var = tmp_path / "var"
    var.mkdir()
    (var / ".demo-seeded").touch()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_VARS}
    env.update(FENGHUO_VAR_DIR=str(var), PORT=str(port))
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert wait_until(lambda: _health(port) is not None, timeout=120, interval=1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode(errors="replace")
        time.sleep(0.5)
    assert "Demo users created" not in out
