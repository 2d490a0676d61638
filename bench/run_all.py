"""Run every benchmark in bench/ and write their figures into docs/benchmarks.md.

    .venv/bin/python bench/run_all.py            # what `make bench` runs: every benchmark
    .venv/bin/python bench/run_all.py --quick    # smaller sizes, a few minutes in all
    .venv/bin/python bench/run_all.py --only bench_nlp --only bench_matcher
    .venv/bin/python bench/run_all.py --list     # what would run, with which command

Each benchmark runs as its own process, one after another (they share the machine's two
cores and some share a throwaway database), with the sizes in BENCHMARKS below: chosen so
that each finishes within a few minutes on this 2-core machine. The scripts that need
PostgreSQL and Redis reach them on 127.0.0.1 as they always do (their own throwaway
databases and Redis db numbers); when one is not answering, those benchmarks are recorded as
skipped. The long soaks (SOAKS) run only with --soak.

Each script's full output is echoed and kept in var/bench/<name>.log; its summary figures go
into a table between the markers ``<!-- bench:run_all:start -->`` and
``<!-- bench:run_all:end -->`` in docs/benchmarks.md, one row per benchmark with the date,
the exact command and the load average before it ran; the machine (nproc, memory) heads
the table. Everything outside the markers (the hand-written analysis) is left as it is. A
run limited by --only replaces only its own rows. The exit status is 1 when a benchmark
failed or timed out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
DOC = REPO / "docs" / "benchmarks.md"
LOGS = REPO / "var" / "bench"
START = "<!-- bench:run_all:start -->"
END = "<!-- bench:run_all:end -->"
# Modules in bench/ that are not benchmarks.
HELPERS = {"run_all.py", "incident_common.py", "stack_push.py"}
# Long soaks, run only with --soak (their sizes are the scripts' own defaults).
SOAKS = {"soak_embedded.py", "bench_broker_outage.py"}


def _search(pattern: str, text: str) -> re.Match[str] | None:
    return re.search(pattern, text, re.MULTILINE)


def _lines(pattern: str, text: str) -> list[str]:
    return [m.group(0).strip() for m in re.finditer(pattern, text, re.MULTILINE)]


def summarize_nlp(out: str) -> str:
    head = _search(r"engine=(\S+) texts=(\d+)", out)
    stage = _search(r"^analyze_many \(end to end\)\s+([\d.]+)\s+([\d.]+)", out)
    rate = _search(r"^=> ([\d,]+) texts/s", out)
    if not (stage and rate):
        raise ValueError("no analyze_many line")
    engine = f"engine {head.group(1)}, {int(head.group(2)):,} texts; " if head else ""
    return (
        f"{engine}analyze_many {stage.group(1)} µs/text best, {stage.group(2)} median "
        f"(chunks of 1,000); {rate.group(1)} texts/s in one process"
    )


def summarize_matcher(out: str) -> str:
    match = _search(
        r"^match\(\):\s+best ([\d,]+) posts/s, median ([\d,]+) posts/s.*?([\d,]+) posts per CPU",
        out,
    )
    scan = _search(
        r"^sensitive scan \((\d+) terms\): best ([\d,]+) posts/s, median ([\d,]+) posts/s; "
        r"([\d,]+) posts per CPU",
        out,
    )
    setup = _search(r"^(\d+) topics, (\d+) distinct terms, build ([\d.]+) ms; (\d+) posts", out)
    if not (match and scan):
        raise ValueError("no match()/scan lines")
    size = f"{setup.group(1)} topics, {int(setup.group(4)):,} posts: " if setup else ""
    return (
        f"{size}match() best {match.group(1)} posts/s, median {match.group(2)}, "
        f"{match.group(3)} per CPU second; sensitive scan ({scan.group(1)} terms) best "
        f"{scan.group(2)}, median {scan.group(3)}, {scan.group(4)} per CPU second"
    )


def summarize_detectors(out: str) -> str:
    title = _search(r"^### Summary \(default thresholds, (\d+) series, (\d+) topic-days\)", out)
    if not title:
        raise ValueError("no summary table")
    summary = out[title.end() : out.find("\n### ", title.end())]  # the per-series tables follow
    rows = re.findall(
        r"^\| (volume_spike|negative_surge|coordinated_posting) \| (\d+) \| (\d+) \| (\d+) \| "
        r"([\d.–]+) \| (\d+) \| ([\d.–]+) \|",
        summary,
        re.MULTILINE,
    )
    if not rows:
        raise ValueError("no summary table")
    parts = [
        f"{kind} {events} events, {missed} missed, {fa} false alarms, mean delay {delay} min"
        for kind, events, missed, fa, delay, _pfa, _pdelay in rows
    ]
    return f"{title.group(1)} series, {title.group(2)} topic-days, closed minutes: " + "; ".join(
        parts
    )


def summarize_ingest(out: str) -> str:
    found = _search(r'^\{\s*\n\s*"mentions"(?:.|\n)*?^\}', out)
    if not found:
        raise ValueError("no JSON result")
    r = json.loads(found.group(0))
    return (
        f"{r['mentions_per_second']:,} mentions/s ({r['stored']:,} stored in {r['seconds']} s, "
        f"{r['failed_payloads']} failed payloads), worker peak RSS {r['worker_peak_rss_mb']} MB; "
        f"naive {r['naive_mentions_per_second']}/s, {r['speedup_vs_naive']}× faster"
    )


def summarize_profile(out: str) -> str:
    total = _search(r"^([\d,]+) mentions/s in this process, ([\d.]+) µs each", out)
    steps = re.findall(r"^(\S+)\s+([\d.]+) µs/mention", out, re.MULTILINE)
    if not total:
        raise ValueError("no total line")
    top = ", ".join(f"{name} {us}" for name, us in steps[:4])
    return (
        f"{total.group(1)} mentions/s in process, {total.group(2)} µs each; "
        f"top steps (µs/mention): {top}"
    )


def summarize_sla(out: str) -> str:
    rows = _search(r"^ledger rows: (\d+) \(breaches (\d+)/(\d+)\), duplicates: (\d+)", out)
    every = _search(r"^lateness all rows\s+p50 ([\d.]+) s\s+p99 ([\d.]+) s\s+max ([\d.]+) s", out)
    breach = _search(r"^lateness breaches\s+p50 ([\d.]+) s\s+p99 ([\d.]+) s\s+max ([\d.]+) s", out)
    if not (rows and every and breach):
        raise ValueError("no lateness lines")
    return (
        f"{rows.group(1)} ledger rows, breaches {rows.group(2)}/{rows.group(3)}, "
        f"{rows.group(4)} duplicates; lateness p50 {every.group(1)} s, p99 {every.group(2)} s, "
        f"max {every.group(3)} s (breaches: p99 {breach.group(2)} s)"
    )


def summarize_board(out: str) -> str:
    load = _search(r"^(\d+) requests, (\d+) clients, ([\d.]+) s, (\d+) req/s, errors (\d+)", out)
    lat = _search(r"^latency ms\s+p50 (\d+)\s+p95 (\d+)\s+p99 (\d+)\s+max (\d+)", out)
    poll = _search(r"^unchanged panel poll: status (\d+), .*?p50 ([\d.]+) ms p95 ([\d.]+) ms", out)
    rows = _search(r"^board renders (\d+) open incidents, (\d+) bytes", out)
    if not (load and lat):
        raise ValueError("no latency lines")
    text = (
        f"{load.group(4)} req/s with {load.group(2)} clients, {load.group(5)} errors; "
        f"p50 {lat.group(1)} ms, p95 {lat.group(2)} ms, p99 {lat.group(3)} ms"
    )
    if rows:
        text += f" ({rows.group(1)} open rows, {int(rows.group(2)):,} bytes)"
    if poll:
        text += f"; unchanged panel poll {poll.group(1)}, p95 {poll.group(3)} ms"
    return text


def summarize_detection_latency(out: str) -> str:
    alert = _search(r"^push -> alert exists:\s+(n=\d+ p50=\S+ p95=\S+ max=\S+)", out)
    incident = _search(r"^push -> incident on board:\s+(n=\d+ p50=\S+ p95=\S+ max=\S+)", out)
    missed = _search(r"^missed: alert (\d+), incident (\d+)", out)
    if not (alert and incident and missed):
        raise ValueError("no latency lines")
    return (
        f"to alert {alert.group(1)}; to incident on the board {incident.group(1)}; "
        f"missed {missed.group(1)} alerts, {missed.group(2)} incidents"
    )


def summarize_tail(out: str) -> str:
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return "; ".join(lines[-3:])


@dataclass(frozen=True)
class Benchmark:
    name: str  # the row's key; several rows may run one script with different arguments
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    summarize: Callable[[str], str]
    needs: tuple[str, ...] = ()  # "postgres", "redis"
    timeout: int = 20 * 60
    soak: bool = False


# Full sizes: each a few minutes at most on the 2-core machine (the largest, SLA lateness,
# about 4 minutes with a 180 s window). The hand-written sections of docs/benchmarks.md give
# the larger runs the targets were judged on.
PG_REDIS = ("postgres", "redis")
BENCHMARKS: list[Benchmark] = [
    Benchmark(
        name="bench_nlp",
        script="bench_nlp.py",
        full=("--n", "5000", "--repeat", "5"),
        quick=("--n", "2000", "--repeat", "3"),
        summarize=summarize_nlp,
    ),
    Benchmark(
        name="bench_matcher",
        script="bench_matcher.py",
        full=("--repeats", "5"),
        quick=("--posts", "5000", "--repeats", "3"),
        summarize=summarize_matcher,
    ),
    Benchmark(
        name="bench_detectors",
        script="bench_detectors.py",
        full=(),
        quick=(),
        summarize=summarize_detectors,
    ),
    Benchmark(
        name="bench_ingest",
        script="bench_ingest.py",
        full=("--mentions", "20000", "--batch", "1000", "--naive", "1000"),
        quick=("--mentions", "5000", "--batch", "1000", "--naive", "300"),
        summarize=summarize_ingest,
        needs=PG_REDIS,
    ),
    Benchmark(
        name="profile_ingest",
        script="profile_ingest.py",
        full=("--mentions", "10000"),
        quick=("--mentions", "3000"),
        summarize=summarize_profile,
        needs=("postgres",),
    ),
    Benchmark(
        name="bench_sla_lateness",
        script="bench_sla_lateness.py",
        full=("--milestones", "500", "--window", "180", "--incidents", "125"),
        quick=("--milestones", "200", "--window", "60", "--incidents", "50"),
        summarize=summarize_sla,
        needs=PG_REDIS,
    ),
    Benchmark(
        name="bench_board",
        script="bench_board.py",
        full=("--requests", "3000", "--clients", "20"),
        quick=("--requests", "600", "--clients", "20", "--incidents", "500", "--open", "100"),
        summarize=summarize_board,
        needs=PG_REDIS,
    ),
    Benchmark(
        name="bench_detection_latency",
        script="bench_detection_latency.py",
        full=("--trials", "20"),
        quick=("--trials", "5"),
        summarize=summarize_detection_latency,
        needs=PG_REDIS,
    ),
    Benchmark(
        name="bench_detection_latency_feed",
        script="bench_detection_latency.py",
        full=("--feed", "--interval", "20", "--trials", "6"),
        quick=("--feed", "--interval", "20", "--trials", "3"),
        summarize=summarize_detection_latency,
        needs=PG_REDIS,
    ),
]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def services() -> dict[str, bool]:
    return {"postgres": _answers(5432), "redis": _answers(6379)}


def machine() -> str:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    memory = f"{mem_kb / 1024 / 1024:.1f} GiB memory" if mem_kb else "memory unknown"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{os.cpu_count()} CPUs (nproc), {memory}, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; commit {commit or 'unknown'}"
    )


def python_shown() -> str:
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(REPO))
    except ValueError:
        return str(exe)


@dataclass
class Row:
    name: str
    figures: str
    command: str
    when: str
    took: str
    load: str

    def cells(self) -> list[str]:
        return [
            f"`{self.name}`",
            self.figures,
            f"`{self.command}`",
            self.when,
            self.took,
            self.load,
        ]


HEADER = "| benchmark | figures | command | run at (UTC) | took | load before |"
RULE = "| --- | --- | --- | --- | ---: | ---: |"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip().replace("\\|", "|") for c in cells]


def read_rows(doc: str) -> dict[str, Row]:
    start, end = doc.find(START), doc.find(END)
    if start < 0 or end < 0:
        return {}
    rows: dict[str, Row] = {}
    for line in doc[start:end].splitlines():
        if not line.startswith("| `"):
            continue
        cells = _split_row(line)
        if len(cells) != 6:
            continue
        name, figures, command, when, took, load = cells
        rows[name.strip("`")] = Row(name.strip("`"), figures, command.strip("`"), when, took, load)
    return rows


def render_block(rows: dict[str, Row], machine_line: str) -> str:
    order = [b.name for b in BENCHMARKS]
    names = sorted(rows, key=lambda n: (order.index(n) if n in order else len(order), n))
    lines = [
        START,
        "Written by `bench/run_all.py` (`make bench`); rerun it rather than editing this table. "
        f"Machine: {machine_line}. Each row is one run of the command shown, on this shared "
        "machine: the load average before it is in the last column.",
        "",
        HEADER,
        RULE,
        *("| " + " | ".join(_cell(c) for c in rows[n].cells()) + " |" for n in names),
        END,
    ]
    return "\n".join(lines)


def write_doc(rows: dict[str, Row], machine_line: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    block = render_block(rows, machine_line)
    start, end = doc.find(START), doc.find(END)
    if start >= 0 and end > start:
        doc = doc[:start] + block + doc[end + len(END) :]
    else:
        doc = doc.rstrip("\n") + "\n\n## Latest `make bench` run\n\n" + block + "\n"
    DOC.write_text(doc, encoding="utf-8")


def run(bench: Benchmark, args: tuple[str, ...]) -> tuple[int | None, str, float]:
    """Run one script, echoing its output; return (exit status or None on timeout, output, s)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{bench.name}.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    started = time.monotonic()
    out: list[str] = []
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, str(BENCH / bench.script), *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,  # so a timeout can stop the workers it started too
        )
        assert proc.stdout is not None
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            time.sleep(30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        watchdog = threading.Timer(bench.timeout, stop)
        watchdog.daemon = True
        watchdog.start()
        try:
            for line in proc.stdout:
                out.append(line)
                log.write(line)
                print(f"  {line}", end="", flush=True)
            status = proc.wait()
        finally:
            watchdog.cancel()
    return (None if timed_out.is_set() else status), "".join(out), time.monotonic() - started


def selected(options: argparse.Namespace) -> list[Benchmark]:
    known = {b.script for b in BENCHMARKS}
    chosen = [b for b in BENCHMARKS if not options.only or b.name in options.only]
    for path in sorted(BENCH.glob("*.py")):
        if path.name in HELPERS or path.name in known:
            continue
        soak = path.name in SOAKS
        if options.only and path.stem not in options.only:
            continue
        if soak and not options.soak:
            print(f"{path.name}: a long soak, not run (pass --soak to include it)")
            continue
        # A script added without an entry here still runs, at its own default sizes.
        chosen.append(
            Benchmark(
                name=path.stem,
                script=path.name,
                full=(),
                quick=(),
                summarize=summarize_tail,
                needs=PG_REDIS,
                timeout=3 * 60 * 60 if soak else 20 * 60,
                soak=soak,
            )
        )
    unknown = set(options.only or ()) - {b.name for b in chosen}
    if unknown:
        raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))} (see --list)")
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    parser.add_argument("--soak", action="store_true", help="also run the long soaks")
    parser.add_argument("--only", action="append", metavar="NAME", help="run this one (repeat)")
    parser.add_argument("--list", action="store_true", help="show what would run and exit")
    parser.add_argument(
        "--no-write", action="store_true", help="print the table, leave docs/benchmarks.md alone"
    )
    options = parser.parse_args()

    benches = selected(options)
    python = python_shown()

    def command(bench: Benchmark) -> str:
        args = bench.quick if options.quick else bench.full
        return " ".join([python, f"bench/{bench.script}", *args])

    if options.list:
        for bench in benches:
            print(f"{bench.name:<32} {command(bench)}")
        return 0

    available = services()
    machine_line = machine()
    print(f"machine: {machine_line}")
    rows = read_rows(DOC.read_text(encoding="utf-8")) if DOC.exists() else {}
    failed = []
    for bench in benches:
        when = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M")
        load = f"{os.getloadavg()[0]:.1f}"
        cmd = command(bench)
        missing = [s for s in bench.needs if not available.get(s)]
        print(f"\n=== {bench.name}: {cmd}", flush=True)
        if missing:
            figures = f"skipped: {' and '.join(missing)} not answering on 127.0.0.1"
            print(figures)
            rows[bench.name] = Row(bench.name, figures, cmd, when, "–", load)
            continue
        status, out, seconds = run(bench, bench.quick if options.quick else bench.full)
        if status is None:
            figures = f"timed out after {bench.timeout // 60} min"
            failed.append(bench.name)
        elif status != 0:
            last = [line for line in out.splitlines() if line.strip()][-1:] or ["no output"]
            figures = f"failed (exit {status}): {last[0].strip()[:200]}"
            failed.append(bench.name)
        else:
            try:
                figures = bench.summarize(out)
            except (ValueError, KeyError, json.JSONDecodeError) as exc:
                figures = f"ran, but its summary was not understood ({exc}): {summarize_tail(out)}"
                failed.append(bench.name)
        print(f"--> {figures}", flush=True)
        rows[bench.name] = Row(bench.name, figures, cmd, when, f"{seconds:.0f} s", load)

    if options.no_write:
        print("\n" + render_block(rows, machine_line))
    else:
        write_doc(rows, machine_line)
        print(f"\nwrote {len(benches)} rows into {DOC.relative_to(REPO)}")
    if failed:
        print(f"failed: {', '.join(failed)}; logs in {LOGS.relative_to(REPO)}/", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
