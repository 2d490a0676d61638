"""The process supervisor of `make run` (crisis/supervise.py): a process that dies is
restarted and named, one that keeps dying stops everything with a clear message, and a
SIGTERM stops every process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT, wait_until


def _supervise(tmp_path: Path, procfile: str, *args: str) -> subprocess.Popen[str]:
    (tmp_path / "Procfile").write_text(procfile)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crisis.supervise",
            "-f",
            str(tmp_path / "Procfile"),
            "--status",
            str(tmp_path / "status.json"),
            "--grace",
            "5",
            *args,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _status(tmp_path: Path) -> dict:
    try:
        return json.loads((tmp_path / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_process_that_dies_is_restarted_and_the_others_keep_running(tmp_path: Path) -> None:
    py = sys.executable
    proc = _supervise(
        tmp_path,
        f"steady: {py} -c 'import time; time.sleep(600)'\n"
        f"crashy: {py} -c 'import time; time.sleep(600)'\n",
    )
    try:
        assert wait_until(
            lambda: _status(tmp_path).get("processes", {}).get("crashy", {}).get("running"),
            timeout=30,
        )
        first = _status(tmp_path)["processes"]
        os.kill(first["crashy"]["pid"], signal.SIGKILL)

        def restarted() -> bool:
            crashy = _status(tmp_path)["processes"]["crashy"]
            return crashy["restarts"] == 1 and crashy["running"]

        assert wait_until(restarted, timeout=30)
        now = _status(tmp_path)["processes"]
        assert now["crashy"]["pid"] != first["crashy"]["pid"]
        assert now["crashy"]["last_exit"] == "was killed by SIGKILL"
        assert now["steady"]["pid"] == first["steady"]["pid"]
        assert now["steady"]["restarts"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out
    assert "crashy was killed by SIGKILL" in out
    assert "restarting it in 1s" in out
    final = _status(tmp_path)["processes"]
    assert not any(_alive(p["pid"]) for p in final.values())


def test_a_process_that_keeps_dying_stops_everything_with_its_last_output(
    tmp_path: Path,
) -> None:
    py = sys.executable
    proc = _supervise(
        tmp_path,
        f"steady: {py} -c 'import time; time.sleep(600)'\n"
        f"broken: {py} -c 'import sys; print(\"cannot bind port 8000\"); sys.exit(3)'\n",
        "--max-restarts",
        "2",
    )
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 1
    assert "broken exited with code 3 and keeps dying: 3 exits" in out
    assert "cannot bind port 8000" in out
    assert "Stopping Fenghuo" in out
    status = _status(tmp_path)
    assert status["failure"].startswith("broken exited with code 3")
    assert not _alive(status["processes"]["steady"]["pid"])


def test_sigterm_stops_every_process(tmp_path: Path) -> None:
    py = sys.executable
    proc = _supervise(
        tmp_path,
        f"a: {py} -c 'import time; time.sleep(600)'\nb: {py} -c 'import time; time.sleep(600)'\n",
    )

    def both_running() -> bool:
        processes = _status(tmp_path).get("processes", {})
        return len(processes) == 2 and all(p["running"] for p in processes.values())

    assert wait_until(both_running, timeout=30)
    pids = [p["pid"] for p in _status(tmp_path)["processes"].values()]
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert not any(_alive(pid) for pid in pids)
