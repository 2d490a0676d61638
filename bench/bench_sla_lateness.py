"""SLA warning/breach lateness with a real Celery worker and beat on Redis and PostgreSQL.

    .venv/bin/python bench/bench_sla_lateness.py [--milestones 1000] [--window 480]

Creates ``--milestones`` SLA milestones on open incidents, each started now and falling
due at a random moment of the next ``--window`` seconds; with the default warning
fractions (50 %, 80 %) every milestone speaks three times inside the window (two warnings
and the breach). Then starts ``celery beat`` (the crisis.scan_clocks entry, every 2 s) and
``celery worker --concurrency 2``, waits for every breach, and reports the lateness of each
ledger row: ``Notification.created_at - fired_for`` (the moment the warning or breach became
due). One manager exists, so every row also writes an in-app delivery.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from datetime import timedelta

from incident_common import REPO, bench_env, percentiles, purge_queue, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--milestones", type=int, default=1000)
    parser.add_argument("--window", type=int, default=480, help="seconds")
    parser.add_argument("--incidents", type=int, default=250)
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from crisis.models import Incident, Notification, SlaMilestone
    from crisis.services import _policy_snapshot, escalation_policy_default

    purge_queue()
    boss = User.objects.create_user("bench_manager", password="x")
    boss.groups.add(Group.objects.get(name="manager"))
    snapshot = _policy_snapshot(escalation_policy_default())
    now = timezone.now()
    incidents = Incident.objects.bulk_create(
        [
            Incident(
                title=f"bench {n}",
                status="monitoring",
                detected_at=now,
                escalation_snapshot=snapshot,
            )
            for n in range(args.incidents)
        ]
    )
    rng = random.Random(42)
    start = now + timedelta(seconds=20)  # time for beat and worker to start
    rows = []
    for n in range(args.milestones):
        due = start + timedelta(seconds=rng.uniform(0, args.window))
        rows.append(
            SlaMilestone(
                incident=incidents[n % len(incidents)],
                kind="progress_update",
                started_at=start,
                due_at=due,
                next_check_at=start + (due - start) * 0.5,
            )
        )
    SlaMilestone.objects.bulk_create(rows, batch_size=1000)
    last_due = max(r.due_at for r in rows)
    print(f"{args.milestones} milestones due between {start:%H:%M:%S} and {last_due:%H:%M:%S}")

    env = bench_env()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "crisis",
                "beat",
                "--loglevel=WARNING",
                "--scheduler",
                "crisis.celery:HeartbeatScheduler",
                "--schedule",
                f"{env['FENGHUO_VAR_DIR']}/celerybeat-schedule",
            ],
            cwd=REPO,
            env=env,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "crisis",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO,
            env=env,
        ),
    ]
    try:
        deadline = time.monotonic() + args.window + 200
        breaches = Notification.objects.filter(reason="sla_breach")
        while time.monotonic() < deadline:
            done = breaches.count()
            if done >= args.milestones:
                break
            time.sleep(5)
            print(f"  {timezone.now():%H:%M:%S} breaches {done}/{args.milestones}", flush=True)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        purge_queue()

    rows_out = Notification.objects.filter(milestone__isnull=False).values_list(
        "created_at", "fired_for", "level"
    )
    lateness = [(c - f).total_seconds() for c, f, _l in rows_out]
    breach_lateness = [(c - f).total_seconds() for c, f, lvl in rows_out if lvl == "breach"]
    dupes = Notification.objects.filter(milestone__isnull=False).count() - len(
        set(Notification.objects.values_list("milestone_id", "level"))
    )
    stats = percentiles(lateness)
    bstats = percentiles(breach_lateness)
    print(
        f"ledger rows: {stats['n']} (breaches {bstats['n']}/{args.milestones}), duplicates: {dupes}"
    )
    print("lateness all rows  p50 {p50:.2f} s  p99 {p99:.2f} s  max {max:.2f} s".format(**stats))
    print("lateness breaches  p50 {p50:.2f} s  p99 {p99:.2f} s  max {max:.2f} s".format(**bstats))


if __name__ == "__main__":
    main()
