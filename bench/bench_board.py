"""Incident board latency under gunicorn: 2,000 incidents (300 open), 20 concurrent clients.

    .venv/bin/python bench/bench_board.py [--requests 3000] [--clients 20]

Builds the data in the throwaway database, starts gunicorn the way the Procfile does
(2 workers × 4 threads), logs one analyst in (a real session cookie), then 20 client threads
fetch /incidents/ as fast as they can; latency is measured per request on the client side.
The clients run on the same 2-core machine as the server, so the figure is pessimistic.
"""

from __future__ import annotations

import argparse
import http.client
import random
import subprocess
import sys
import threading
import time
from datetime import timedelta

from incident_common import REPO, bench_env, percentiles, setup_django

PORT = 8765


def build(total: int, open_count: int) -> str:
    from django.conf import settings
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from crisis.models import OPEN_STATUSES, Incident, SlaMilestone, TeamMember
    from crisis.services import _policy_snapshot, escalation_policy_default
    from crisis.sla import milestone_plan

    analyst = User.objects.create_user("bench_analyst", password="x")
    analyst.groups.add(Group.objects.get(name="analyst"))
    snapshot = _policy_snapshot(escalation_policy_default())
    now = timezone.now()
    rng = random.Random(7)
    incidents = []
    for n in range(total):
        is_open = n < open_count
        detected = now - timedelta(minutes=rng.uniform(1, 60 * 24 * (1 if is_open else 90)))
        incidents.append(
            Incident(
                title=f"舆情事件 {n}：网传产品质量问题",
                summary="bench",
                status=rng.choice(OPEN_STATUSES)
                if is_open
                else rng.choice(["resolved", "reviewed", "dismissed"]),
                severity=rng.choice(["minor", "moderate", "severe"]),
                crisis_type=rng.choice(
                    ["false_information", "complaint_outbreak", "technical_failure"]
                ),
                detected_at=detected,
                escalation_snapshot=snapshot,
            )
        )
    incidents = Incident.objects.bulk_create(incidents, batch_size=500)
    milestones, members = [], []
    for incident in incidents:
        for kind, due in milestone_plan(complexity="normal", detected_at=incident.detected_at):
            met = None if incident.status in OPEN_STATUSES and rng.random() < 0.7 else due
            milestones.append(
                SlaMilestone(
                    incident=incident,
                    kind=kind,
                    started_at=incident.detected_at,
                    due_at=due,
                    met_at=met,
                )
            )
        members.append(TeamMember(incident=incident, user=analyst, department="pr"))
    SlaMilestone.objects.bulk_create(milestones, batch_size=2000)
    TeamMember.objects.bulk_create(members, batch_size=2000)
    session = SessionStore()
    session[SESSION_KEY] = str(analyst.pk)
    session[HASH_SESSION_KEY] = analyst.get_session_auth_hash()
    session["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
    session.save()
    assert session.session_key is not None
    return session.session_key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--open", type=int, default=300)
    args = parser.parse_args()

    setup_django()
    session_key = build(args.incidents, args.open)
    env = bench_env()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "crisis.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
    )
    headers = {"Cookie": f"sessionid={session_key}", "Host": "127.0.0.1"}

    def get(path: str) -> tuple[int, int, float]:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        elapsed = time.perf_counter() - t0
        conn.close()
        return resp.status, len(body), elapsed

    try:
        for _ in range(100):
            try:
                status, size, _t = get("/incidents/")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert status == 200, status
        rows = 0
        body_check = http.client.HTTPConnection("127.0.0.1", PORT)
        body_check.request("GET", "/incidents/", headers=headers)
        rows = body_check.getresponse().read().decode().count("data-incident=")
        print(f"board renders {rows} open incidents, {size} bytes")
        for _ in range(20):  # warm-up
            get("/incidents/")
        latencies: list[float] = []
        errors: list[int] = []
        lock = threading.Lock()
        per_client = args.requests // args.clients

        def client() -> None:
            for _ in range(per_client):
                status, _size, elapsed = get("/incidents/")
                with lock:
                    latencies.append(elapsed)
                    if status != 200:
                        errors.append(status)

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        stats = percentiles([x * 1000 for x in latencies])
        print(
            f"{stats['n']} requests, {args.clients} clients, {wall:.1f} s, "
            f"{stats['n'] / wall:.0f} req/s, errors {len(errors)}"
        )
        print(
            "latency ms  p50 {p50:.0f}  p95 {p95:.0f}  p99 {p99:.0f}  max {max:.0f}".format(**stats)
        )
        # the unchanged live panel: what each open board costs every 3 s
        import re

        html = http.client.HTTPConnection("127.0.0.1", PORT)
        html.request("GET", "/incidents/", headers=headers)
        page = html.getresponse().read().decode()
        token = re.search(r'data-board-token="([0-9a-f]+)"', page)
        if token:
            poll = [get(f"/incidents/board/panel/?token={token.group(1)}") for _ in range(200)]
            pstats = percentiles([p[2] * 1000 for p in poll])
            print(
                f"unchanged panel poll: status {poll[0][0]}, {poll[0][1]} bytes, "
                "p50 {p50:.1f} ms p95 {p95:.1f} ms (sequential)".format(**pstats)
            )
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
