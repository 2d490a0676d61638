"""The structure rules of docs/architecture.md, checked on every `make test`.

- Layers: an app imports only from the layers below it (crisis <- monitoring <- response <-
  review); the project wiring in crisis/ (settings, urls, celery, asgi, wsgi) may import every
  app. The contract itself is `[tool.importlinter]` in pyproject.toml, run here through
  import-linter's Python API, so a new upward import fails the suite with the import chain.
- Size: no module of the four apps (migrations aside) is longer than about 800 lines unless
  its module docstring says it is "one cohesive algorithm".
"""

from __future__ import annotations

import ast
import contextlib
import io
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
APPS = ("crisis", "monitoring", "response", "review")
MAX_LINES = 800
COHESIVE_MARKER = "one cohesive algorithm"


def test_apps_import_only_from_the_layers_below() -> None:
    from importlinter import configuration
    from importlinter.application.use_cases import lint_imports

    configuration.configure()  # what the lint-imports command does first
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        kept = lint_imports(
            config_filename=str(REPO_ROOT / "pyproject.toml"),
            cache_dir=None,  # nothing written into the working tree
            no_logo=True,
        )
    assert kept, "import contract broken (pyproject.toml [tool.importlinter]):\n" + out.getvalue()


def _app_modules() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (REPO_ROOT / app).rglob("*.py")
        if "migrations" not in path.relative_to(REPO_ROOT).parts
    )


def test_the_four_apps_have_modules() -> None:
    # Guards the size test below against silently checking nothing.
    assert len(_app_modules()) > 50


def _too_long() -> dict[str, int]:
    """Modules over MAX_LINES whose docstring does not declare one cohesive algorithm."""
    found = {}
    for path in _app_modules():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n") + (not text.endswith("\n") and bool(text))
        if lines <= MAX_LINES:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if COHESIVE_MARKER not in " ".join(docstring.split()):
            found[path.relative_to(REPO_ROOT).as_posix()] = lines
    return found


def test_no_module_over_800_lines_unless_it_declares_one_cohesive_algorithm() -> None:
    too_long = _too_long()
    if too_long:
        pytest.fail(
            f"modules over {MAX_LINES} lines: split each into a package with a public API in "
            f"its __init__, or, if it really is one algorithm, say '{COHESIVE_MARKER}' in its "
            "module docstring:\n  " + "\n  ".join(f"{p}: {n} lines" for p, n in too_long.items())
        )
