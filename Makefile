# GreenLight Sync. `make demo` runs the main job on the sandbox; `make test` runs the tests.
# Both set up everything on a fresh machine (a .venv with the pinned dependencies).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TEST_DB_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/postgres
# pytest workers, each its own session (its own embedded warehouse, sandbox and Dagster home); a module's tests
# stay on one worker, so what a module sets up once it still sets up once. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -m "not reliability" -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

.PHONY: install browser lint test test-tcp dev demo sync reliability bench clean

$(STAMP): pyproject.toml setup.py constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(PY) -m greenlight_dagster.defs.warehouse.manifest
	@touch $(STAMP)

install: $(STAMP)

# Debian's chromium + chromium-driver for the UI test (skipped with a reason when they cannot be installed).
browser:
	@bash scripts/install_browser.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy greenlight_dagster/core greenlight_dagster/clients

# The whole suite on the embedded PostgreSQL; under CI, also the warehouse-facing tests
# against the machine's TCP server when one answers at 127.0.0.1:5432.
test: lint browser
	$(PYTEST) --durations=15
	@if [ "$$CI" = "true" ] && $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-tcp; \
	else echo "(TCP PostgreSQL run skipped: set CI=true with a server at 127.0.0.1:5432 to run it)"; fi

# What depends on the server itself, once each: the whole dbt project built and tested on it, the ledger under
# the pushes, the loader, migrations, Dagster's storage and the logins (roles and the least-privilege sync need
# a login that may create roles, which only a TCP server gives the tests). The other dbt scenarios and the CLI
# backfill run the same SQL as the build, and the static security checks read no database: the embedded run
# covers them.
test-tcp: install
	GREENLIGHT_TEST_DATABASE_URL=$(TEST_DB_URL) $(PYTEST) \
		greenlight_dagster_tests/warehouse_model/test_warehouse_model.py greenlight_dagster_tests/push \
		greenlight_dagster_tests/ingestion --ignore=greenlight_dagster_tests/ingestion/test_backfill_cli.py \
		greenlight_dagster_tests/security/test_least_privilege_sync.py greenlight_dagster_tests/security/test_roles.py \
		greenlight_dagster_tests/foundation/test_migrations.py greenlight_dagster_tests/foundation/test_dagster_storage.py \
		greenlight_dagster_tests/foundation/test_instance.py

dev: install
	$(VENV)/bin/greenlight dev

demo: install
	$(VENV)/bin/greenlight demo

# The fault scenarios and docs/reliability.md; `make reliability LOAD_SCALE=large` for the load scenario's
# 300,000-work-order world (medium by default). The load world is a migrated account (SF already holds the
# customers); LOAD_WORLD=fresh makes its first sync create every tenant as an SF customer (test_load.py).
reliability: install
	GREENLIGHT_LOAD_SCALE=$(or $(LOAD_SCALE),medium) GREENLIGHT_LOAD_WORLD=$(or $(LOAD_WORLD),migrated) \
		$(PY) -m pytest -m reliability -p no:cacheprovider

bench: install
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .greenlight dbt_warehouse/target dbt_warehouse/logs
