"""End-to-end ingest throughput into PostgreSQL, one real Celery worker process.

    .venv/bin/python bench/bench_ingest.py [--mentions 20000] [--batch 1000] [--naive 1000]

What is timed: the payloads are written to the inbox (as the webhook does), one
``monitoring.inbox_process`` task per payload is enqueued on Redis, and a real ``celery
worker --pool=solo`` (one process) parses, dedupes, fingerprints/clusters, analyses and
stores them; the clock stops when the last inbox row is done. The worker is warmed up
(models loaded) on a small payload first. Peak RSS of the worker is read from
/proc/<pid>/status (VmHWM) after the run.

The naive baseline, in this process: per mention ``json.loads``, ``SnowNLP(text).sentiments``
and one ORM ``Mention.objects.create``.

Texts: the distinct Weibo posts of ../shared/data/sentiment (weibo2018_train.txt, split on
the first two commas, and the three SMP2020 files), about 22,000, so a run of 20,000 mentions
has no repeated text (more mentions than texts reuse them in order). They are read at bench
time and never written anywhere but the throwaway database ``fenghuo_bench``, dropped and
recreated on each run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "sentiment" / "weibo2018_train.txt"
SMP_FILES = (
    "smp2020_virus_train.json",
    "smp2020_usual_eval_labeled.json",
    "smp2020_virus_eval_labeled.json",
)
DB_NAME = "fenghuo_bench"
PG = "postgres://postgres@127.0.0.1:5432"
BROKER = "redis://127.0.0.1:6379/13"
QUEUE = "fenghuo-bench"


def load_texts() -> list[str]:
    """Distinct real Weibo posts: weibo2018, then the SMP2020 files (about 22,000)."""
    texts: list[str] = []
    with DATA.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split(",", 2)
            if len(parts) == 3 and parts[2].strip():
                texts.append(parts[2])
    for name in SMP_FILES:
        with (DATA.parent / name).open(encoding="utf-8") as fh:
            texts.extend(
                str(row["content"]) for row in json.load(fh) if str(row["content"]).strip()
            )
    return list(dict.fromkeys(texts))


def make_records(texts: list[str], n: int, prefix: str) -> list[dict[str, object]]:
    base = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    records = []
    for i in range(n):
        records.append(
            {
                "external_id": f"{prefix}{i}",
                "platform": "weibo",
                "text": texts[i % len(texts)],
                "posted_at": (base + timedelta(seconds=i)).isoformat(),
                "author": {"id": f"u{i % 5000}", "name": f"用户{i % 5000}", "followers": i % 9000},
                "metrics": {"reposts": i % 7, "comments": i % 11, "likes": i % 13},
            }
        )
    return records


def jsonl(records: list[dict[str, object]]) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode("utf-8")


def recreate_database() -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB_NAME}")
    conn.close()


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        DATABASE_URL=f"{PG}/{DB_NAME}",
        CELERY_BROKER_URL=BROKER,
        CELERY_QUEUE=QUEUE,
        CELERY_TASK_ALWAYS_EAGER="0",
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        FENGHUO_VAR_DIR=str(REPO / "var" / "bench"),
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="crisis.settings",
    )
    return e


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_done(ids: list[int], timeout: float) -> bool:
    from monitoring.models import RawItem

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            not RawItem.objects.filter(pk__in=ids)
            .exclude(status__in=[RawItem.Status.DONE, RawItem.Status.FAILED])
            .exists()
        ):
            return True
        time.sleep(0.05)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000, help="items per pushed payload")
    parser.add_argument("--naive", type=int, default=1000, help="mentions for the naive pipeline")
    args = parser.parse_args()

    texts = load_texts()
    recreate_database()
    os.environ.update(env())
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO,
        env=env(),
        check=True,
    )
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.db import connection

    from crisis.celery import app
    from monitoring import services, tasks
    from monitoring.models import Mention, RawItem

    # The queue may not exist yet.
    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge(QUEUE)

    (REPO / "var").mkdir(exist_ok=True)
    log = open(REPO / "var" / "bench-worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crisis",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            QUEUE,
        ],
        cwd=REPO,
        env=env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Warm-up: the worker loads the NLP models on its first payload.
        warm = services.inbox_receive(
            body=jsonl(make_records(texts[:200], 200, "warm")), channel=RawItem.Channel.WEBHOOK
        )
        tasks.inbox_process.delay(warm.pk)
        if not wait_done([warm.pk], 300):
            raise SystemExit("warm-up payload was not processed; see var/bench-worker.log")

        records = make_records(texts, args.mentions, "m")
        payloads = [jsonl(records[i : i + args.batch]) for i in range(0, len(records), args.batch)]
        t0 = time.perf_counter()
        ids = []
        for body in payloads:
            raw = services.inbox_receive(body=body, channel=RawItem.Channel.WEBHOOK)
            tasks.inbox_process.delay(raw.pk)
            ids.append(raw.pk)
        if not wait_done(ids, 1800):
            raise SystemExit("payloads not processed in time; see var/bench-worker.log")
        elapsed = time.perf_counter() - t0
        rss = peak_rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()

    stored = Mention.objects.filter(external_id__startswith="m").count()
    failed = RawItem.objects.filter(status=RawItem.Status.FAILED).count()
    negative = Mention.objects.filter(external_id__startswith="m", polarity="negative").count()
    clusters = (
        Mention.objects.filter(external_id__startswith="m").values("cluster_id").distinct().count()
    )
    ours = stored / elapsed

    # Naive pipeline: one SnowNLP call and one ORM save per mention.
    from snownlp import SnowNLP

    from monitoring.ingest import fingerprint

    naive_records = make_records(texts, args.naive, "naive")
    lines = jsonl(naive_records).decode("utf-8").splitlines()
    _warm = SnowNLP("预热").sentiments
    t0 = time.perf_counter()
    now = datetime.now(tz=UTC)
    for line in lines:
        rec = json.loads(line)
        score = SnowNLP(rec["text"]).sentiments
        fp = fingerprint(rec["text"])
        Mention.objects.create(
            platform=rec["platform"],
            external_id=rec["external_id"],
            text=rec["text"],
            posted_at=datetime.fromisoformat(rec["posted_at"]),
            received_at=now,
            updated_at=now,
            author_id=rec["author"]["id"],
            author_name=rec["author"]["name"],
            author_followers=rec["author"]["followers"],
            reposts=rec["metrics"]["reposts"],
            comments=rec["metrics"]["comments"],
            likes=rec["metrics"]["likes"],
            simhash=fp.simhash_signed,
            text_hash=fp.exact,
            sentiment=score,
            polarity="negative" if score < 0.4 else "positive" if score > 0.6 else "neutral",
        )
    naive_elapsed = time.perf_counter() - t0
    naive = len(lines) / naive_elapsed
    connection.close()

    result = {
        "mentions": args.mentions,
        "payload_items": args.batch,
        "stored": stored,
        "failed_payloads": failed,
        "seconds": round(elapsed, 2),
        "mentions_per_second": round(ours),
        "worker_peak_rss_mb": round(rss, 1),
        "negative_share": round(negative / max(stored, 1), 3),
        "distinct_clusters": clusters,
        "naive_mentions": len(lines),
        "naive_seconds": round(naive_elapsed, 2),
        "naive_mentions_per_second": round(naive, 1),
        "speedup_vs_naive": round(ours / naive, 1),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
