"""Shared set-up of the incident-core benchmarks: a throwaway PostgreSQL database
(``fenghuo_bench_incidents``, dropped and recreated on each run), Redis db 12 and its own
queue, so they never touch the development data or the other benchmarks."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DB_NAME = "fenghuo_bench_incidents"
PG = "postgres://postgres@127.0.0.1:5432"
BROKER = "redis://127.0.0.1:6379/12"
QUEUE = "fenghuo-bench-incidents"


def bench_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DATABASE_URL=f"{PG}/{DB_NAME}",
        CELERY_BROKER_URL=BROKER,
        CELERY_QUEUE=QUEUE,
        CELERY_TASK_ALWAYS_EAGER="0",
        FENGHUO_VAR_DIR=tempfile.mkdtemp(prefix="fenghuo-bench-incidents-"),
        STATIC_MANIFEST="0",
        WHITENOISE_USE_FINDERS="1",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def recreate_database() -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB_NAME}")
    conn.close()


def setup_django() -> None:
    """Point this process at the bench database and broker, migrate, and set Django up."""
    os.environ.update(bench_env())
    os.environ["DJANGO_SETTINGS_MODULE"] = "crisis.settings"
    sys.path.insert(0, str(REPO))
    recreate_database()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=bench_env(),
        check=True,
    )
    import django

    django.setup()


def purge_queue() -> None:
    import redis

    redis.Redis.from_url(BROKER).flushdb()


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": q[94],
        "p99": q[98],
        "max": ordered[-1],
    }
