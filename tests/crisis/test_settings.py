from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from crisis.env import env_bool, env_int
from tests.conftest import REPO_ROOT


def _import_settings(**env: str) -> subprocess.CompletedProcess[str]:
    child_env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    child_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import crisis.settings"],
        cwd=REPO_ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_secret_key_stops_start_when_debug_off() -> None:
    result = _import_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_short_or_placeholder_secret_key_is_refused() -> None:
    assert _import_settings(DEBUG="0", SECRET_KEY="changeme").returncode != 0
    assert _import_settings(DEBUG="0", SECRET_KEY="too-short").returncode != 0


def test_long_random_secret_key_is_accepted() -> None:
    result = _import_settings(DEBUG="0", SECRET_KEY="x" * 20 + "Yq3-9vLk2pQ0rTz8wNb4")
    assert result.returncode == 0, result.stderr


def test_debug_runs_without_secret_key() -> None:
    assert _import_settings(DEBUG="1").returncode == 0


def test_bad_boolean_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG", False)


def test_bad_integer_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_PORT", "eighty")
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("SOME_PORT", 80)


def test_bad_database_url_fails_loudly() -> None:
    result = _import_settings(DEBUG="1", DATABASE_URL="nosuchdb://x")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_language_and_time_defaults() -> None:
    from django.conf import settings

    assert settings.LANGUAGE_CODE == "zh-hans"
    assert settings.USE_TZ is True
    assert settings.TIME_ZONE == "Asia/Shanghai"
