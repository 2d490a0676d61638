"""Run the processes of the Procfile together, restart one that dies, stop them together.

``make run`` starts web, worker and beat with this (``python -m crisis.supervise``). A tool
like honcho stops everything when one process exits, so one crash took the whole console
down and the browser got "connection refused". Here a process that exits on its own is
restarted after a short back-off, with a line that says what exited and how; one that keeps
dying (more than ``--max-restarts`` times in ``--window`` seconds) stops everything with a
message naming it and its last output lines, instead of restarting forever.

Ctrl-C or SIGTERM stops every process (SIGTERM, then SIGKILL after ``--grace`` seconds).
The state of each process (pid, restarts, last exit) is written as JSON to ``--status``
for the soak benchmark and for a person debugging.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
_COLOURS = ["36", "33", "35", "32", "34", "31"]


def read_procfile(path: Path) -> list[tuple[str, str]]:
    entries = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise SystemExit(f"{path}: cannot read this line: {raw!r}")
        entries.append((match.group(1), match.group(2)))
    if not entries:
        raise SystemExit(f"{path}: no processes")
    return entries


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM if the supervisor itself dies, so a
    killed supervisor leaves no web server holding the port."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):  # best effort
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


@dataclass
class Process:
    name: str
    command: str
    colour: str
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    exits: collections.deque[float] = field(default_factory=lambda: collections.deque())
    last_exit: str = ""
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=20))


class Supervisor:
    def __init__(
        self,
        entries: list[tuple[str, str]],
        *,
        max_restarts: int,
        window: float,
        grace: float,
        status_path: Path | None,
        out: IO[str],
    ) -> None:
        self.processes = [
            Process(name, command, _COLOURS[i % len(_COLOURS)])
            for i, (name, command) in enumerate(entries)
        ]
        self.max_restarts = max_restarts
        self.window = window
        self.grace = grace
        self.status_path = status_path
        self.out = out
        self.colour = out.isatty()
        self.width = max(len(p.name) for p in self.processes)
        self.stopping = False
        self.failure = ""
        self._out_lock = threading.Lock()
        self._wake = threading.Event()

    # --- output ------------------------------------------------------------------------

    def say(self, name: str, text: str, colour: str = "1") -> None:
        stamp = time.strftime("%H:%M:%S")
        label = f"{stamp} {name.ljust(self.width)} | "
        if self.colour:
            label = f"\033[{colour}m{label}\033[0m"
        with self._out_lock:
            self.out.write(f"{label}{text}\n")
            self.out.flush()

    def _pump(self, process: Process, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            process.tail.append(line)
            self.say(process.name, line, process.colour)
        stream.close()

    # --- processes ---------------------------------------------------------------------

    def start(self, process: Process) -> None:
        process.proc = subprocess.Popen(  # noqa: S603 - the commands are the project's Procfile
            ["/bin/sh", "-c", f"exec {process.command}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # our own signal handling decides who gets what
            preexec_fn=_die_with_parent,  # only prctl, before exec
        )
        process.started_at = time.monotonic()
        assert process.proc.stdout is not None
        threading.Thread(
            target=self._pump, args=(process, process.proc.stdout), daemon=True
        ).start()
        self.say("system", f"{process.name} started (pid {process.proc.pid})")
        self.write_status()

    def signal_all(self, sig: int) -> None:
        """SIGTERM goes to each main process only: Celery and gunicorn stop their own
        children in order (a worker whose pool children were signalled too hangs in its
        warm shutdown). SIGKILL goes to the whole process group."""
        for process in self.processes:
            if process.proc and process.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    if sig == signal.SIGKILL:
                        os.killpg(process.proc.pid, sig)
                    else:
                        os.kill(process.proc.pid, sig)

    def stop_all(self) -> None:
        self.stopping = True
        self.say("system", "stopping every process")
        self.signal_all(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline:
            if all(p.proc is None or p.proc.poll() is not None for p in self.processes):
                break
            time.sleep(0.1)
        else:
            self.say("system", f"still running after {self.grace:g}s; sending SIGKILL")
            self.signal_all(signal.SIGKILL)
        for process in self.processes:
            if process.proc is not None:
                process.proc.wait()
        self.write_status()

    def handle_exit(self, process: Process, code: int) -> None:
        now = time.monotonic()
        process.last_exit = describe_exit(code)
        process.exits.append(now)
        while process.exits and process.exits[0] < now - self.window:
            process.exits.popleft()
        if len(process.exits) > self.max_restarts:
            tail = "\n    ".join(list(process.tail)[-10:]) or "(no output)"
            self.failure = (
                f"{process.name} {process.last_exit} and keeps dying: {len(process.exits)} "
                f"exits in the last {self.window:g}s. Stopping Fenghuo.\n"
                f"  Command: {process.command}\n  Its last output:\n    {tail}"
            )
            self.say("system", self.failure, "31")
            return
        process.restarts += 1
        delay = min(30.0, 2.0 ** (len(process.exits) - 1))
        self.say(
            "system",
            f"{process.name} {process.last_exit} after {now - process.started_at:.0f}s; "
            f"restarting it in {delay:g}s (restart {len(process.exits)} of at most "
            f"{self.max_restarts} in {self.window:g}s)",
            "31",
        )
        self.write_status()
        if self._wake.wait(delay) or self.stopping:
            return
        self.start(process)

    def write_status(self) -> None:
        if self.status_path is None:
            return
        state: dict[str, Any] = {
            "updated_at": time.time(),
            "stopping": self.stopping,
            "failure": self.failure,
            "processes": {
                p.name: {
                    "pid": p.proc.pid if p.proc else None,
                    "running": bool(p.proc and p.proc.poll() is None),
                    "restarts": p.restarts,
                    "last_exit": p.last_exit,
                }
                for p in self.processes
            },
        }
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        tmp.replace(self.status_path)

    def run(self) -> int:
        def on_signal(signum: int, _frame: Any) -> None:
            if not self.stopping:
                self.say("system", f"received {signal.Signals(signum).name}")
            self.stopping = True
            self._wake.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        for process in self.processes:
            self.start(process)
        while not self.stopping and not self.failure:
            for process in self.processes:
                if self.stopping or self.failure:
                    break
                if process.proc is not None and (code := process.proc.poll()) is not None:
                    self.handle_exit(process, code)
            self._wake.wait(0.5)
        self.stop_all()
        return 1 if self.failure else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--procfile", default="Procfile", type=Path)
    parser.add_argument("--max-restarts", type=int, default=5)
    parser.add_argument("--window", type=float, default=300.0, help="seconds")
    parser.add_argument("--grace", type=float, default=20.0, help="seconds before SIGKILL")
    parser.add_argument("--status", type=Path, default=None, help="JSON state file")
    parser.add_argument("names", nargs="*", help="run only these Procfile entries")
    args = parser.parse_args(argv)
    entries = read_procfile(args.procfile)
    if args.names:
        unknown = set(args.names) - {name for name, _ in entries}
        if unknown:
            parser.error(f"not in {args.procfile}: {', '.join(sorted(unknown))}")
        entries = [(name, command) for name, command in entries if name in args.names]
    supervisor = Supervisor(
        entries,
        max_restarts=args.max_restarts,
        window=args.window,
        grace=args.grace,
        status_path=args.status,
        out=sys.stdout,
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
