"""Shared fixtures: the named actors, service guards, a real Celery worker, a browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from tests import servicecheck

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "correct-horse-battery-staple"


def _need(ok: bool, what: str) -> None:
    """Skip a test whose service is missing, or fail it when CI requires the services."""
    if ok:
        return
    if servicecheck.REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} is not available on this machine")


@pytest.fixture
def require_postgres() -> None:
    from django.db import connection

    _need(connection.vendor == "postgresql", "PostgreSQL")


@pytest.fixture
def require_redis() -> None:
    _need(servicecheck.HAVE_REDIS, "Redis")


# --- actors ---------------------------------------------------------------------------------


def ensure_roles() -> None:
    """Recreate the role groups: a transactional test's flush removes migration data."""
    from importlib import import_module

    from django.apps import apps

    import_module("crisis.migrations.0002_roles").create_roles(apps, None)
    import_module("crisis.migrations.0004_incident_capabilities").add_capabilities(apps, None)


def make_user(username: str, *roles: str) -> User:
    if roles and not Group.objects.filter(name=roles[0]).exists():
        ensure_roles()
    user = User.objects.create_user(username=username, password=PASSWORD)
    if roles:
        user.groups.add(*Group.objects.filter(name__in=roles))
    return user


@pytest.fixture
def analyst(db: Any) -> User:
    return make_user("analyst", "analyst")


@pytest.fixture
def duty_officer(db: Any) -> User:
    return make_user("duty", "duty_officer")


@pytest.fixture
def manager(db: Any) -> User:
    return make_user("manager", "manager")


@pytest.fixture
def legal(db: Any) -> User:
    return make_user("legal", "legal")


@pytest.fixture
def executive(db: Any) -> User:
    return make_user("executive", "executive")


@pytest.fixture
def outsider(db: Any) -> User:
    """A logged-in user with no role at all."""
    return make_user("outsider")


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def service_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process that shares this test's database and broker."""
    from django.db import connection

    env = dict(os.environ)
    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{settings_dict['USER'] or 'postgres'}@{settings_dict['HOST']}:"
            f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{settings_dict['NAME']}"
    env.pop("TEST_DATABASE_NAME", None)
    env["CELERY_TASK_ALWAYS_EAGER"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


class Worker:
    """A real ``celery worker`` process on the test broker and database."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "crisis",
                "worker",
                "--loglevel=INFO",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def stop(self, sig: int | None = None) -> None:
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def celery_worker_process(
    transactional_db: Any, require_redis: None, tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
    """Start real workers on the local Redis; they are stopped after the test."""
    from crisis.celery import app

    started: list[Worker] = []
    app.conf.task_always_eager = False

    def start(**overrides: str) -> Worker:
        worker = Worker(service_env(**overrides), tmp_path / f"worker-{len(started)}.log")
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    app.conf.task_always_eager = True
    _purge_test_queue()


def _purge_test_queue() -> None:
    from crisis.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(app.conf.task_default_queue)
    except Exception:  # noqa: BLE001 - the queue may not exist
        pass


# --- browser --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _need(Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is not None, "Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def browser_login(page: Any, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
