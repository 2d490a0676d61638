"""Pytest plugin loaded before Django settings (``-p tests.servicecheck`` in pyproject).

It points the suite at the real services when they are reachable: PostgreSQL for the
database (a test database named after this process, so parallel runs do not collide) and
Redis for the broker. With REQUIRE_SERVICES=1 (CI) a missing service fails the run instead.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/fenghuo")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.5):
            return True
    except OSError:
        return False


def postgres_available() -> bool:
    if not _reachable("127.0.0.1", 5432):
        return False
    try:
        import psycopg2

        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres").close()
    except Exception:  # noqa: BLE001
        return False
    return True


def redis_available() -> bool:
    if not _reachable("127.0.0.1", 6379):
        return False
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except Exception:  # noqa: BLE001
        return False


HAVE_POSTGRES = postgres_available()
HAVE_REDIS = redis_available()
_VAR = Path(tempfile.mkdtemp(prefix="fenghuo-test-var-"))
atexit.register(shutil.rmtree, _VAR, ignore_errors=True)
(_VAR / "staticfiles").mkdir()

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("FENGHUO_VAR_DIR", str(_VAR))
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("WHITENOISE_USE_FINDERS", "1")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
os.environ.setdefault("CELERY_QUEUE", f"fenghuo-test-{os.getpid()}")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Playwright's sync API runs an event loop in the test thread; the ORM calls made there
# are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
if "DATABASE_URL" not in os.environ and HAVE_POSTGRES:
    os.environ["DATABASE_URL"] = PG_URL
    os.environ.setdefault("TEST_DATABASE_NAME", f"test_fenghuo_{os.getpid()}")
if "CELERY_BROKER_URL" not in os.environ and HAVE_REDIS:
    os.environ["CELERY_BROKER_URL"] = REDIS_URL


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_SERVICES:
        missing = [
            name for name, ok in (("PostgreSQL", HAVE_POSTGRES), ("Redis", HAVE_REDIS)) if not ok
        ]
        if missing:
            raise pytest.UsageError(
                f"REQUIRE_SERVICES=1 but {' and '.join(missing)} cannot be reached on 127.0.0.1"
            )
        if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
            raise pytest.UsageError("REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL")


def pytest_report_header(config: pytest.Config) -> list[str]:
    db = os.environ.get("DATABASE_URL", "sqlite (embedded default)")
    broker = os.environ.get("CELERY_BROKER_URL", "sqlite:// (embedded default)")
    return [
        f"fenghuo: database={db} broker={broker} require_services={REQUIRE_SERVICES}",
    ]
