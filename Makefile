# Fenghuo: `make run` starts the console with demo data, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
VAR := $(or $(FENGHUO_VAR_DIR),var)
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test install install-dev lint typecheck format messages clean bench

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Sets up var/ (SQLite database and queue, a generated secret key), migrates, seeds the demo
# on first start, then runs web + worker + beat from the Procfile under crisis/supervise.py,
# which restarts a process that dies. Ctrl-C or SIGTERM stops all.
run: install
	@mkdir -p $(VAR)
	@test -s $(VAR)/secret_key || $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))' > $(VAR)/secret_key
	@set -e; export SECRET_KEY="$$(cat $(VAR)/secret_key)" PORT=$(PORT) FENGHUO_VAR_DIR="$(abspath $(VAR))"; \
	  $(BIN)/python manage.py migrate --noinput; \
	  $(BIN)/python manage.py collectstatic --noinput --verbosity 0; \
	  if [ ! -f $(VAR)/.demo-seeded ]; then $(BIN)/python manage.py seed_demo && touch $(VAR)/.demo-seeded; fi; \
	  echo "Fenghuo is starting on http://127.0.0.1:$(PORT)/"; \
	  exec $(BIN)/python -m crisis.supervise -f Procfile --status $(VAR)/supervisor.json

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	DEBUG=1 $(BIN)/mypy crisis monitoring response review

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Extract strings, fill Chinese from the glossaries in locale/zh_Hans/glossary/, compile.
# The compiled .mo files are committed so `make run` needs no gettext tools.
messages: export DEBUG = 1
messages:
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var --ignore=tests --ignore=bench --no-obsolete
	$(BIN)/python scripts/po_fill.py locale/zh_Hans/LC_MESSAGES/django.po locale/zh_Hans/glossary/*.json
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=var

bench: install-dev
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VAR)/broker $(VAR)/staticfiles $(VAR)/supervisor.json
