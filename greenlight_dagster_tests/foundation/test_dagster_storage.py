"""Dagster's storage on a fresh server: created when the login may, else one sentence and a quick stop.

A second embedded PostgreSQL plays the user's fresh server (``GREENLIGHT_WAREHOUSE_URL`` set, no
``GREENLIGHT_DAGSTER_STORAGE_URL``): it has the warehouse's database but no ``dagster`` one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.instance.home import project_root
from greenlight_dagster.instance.storage import StorageUnavailable, ensure_storage_database
from greenlight_dagster.warehouse import connection
from greenlight_dagster.warehouse.connection import DAGSTER_STORAGE_URL_ENV, WAREHOUSE_URL_ENV
from greenlight_dagster.warehouse.embedded import EmbeddedWarehouse

CLERK = "clerk"  # a login without CREATEDB, as on a managed server where only an admin creates databases


@pytest.fixture(scope="module")
def fresh_server() -> Iterator[URL]:
    """The admin URL of a server holding only a ``shop`` database (and a ``clerk`` login that may use it)."""
    from greenlight_dagster_tests.conftest import make_server_dir

    path = make_server_dir()
    embedded = EmbeddedWarehouse(path)
    embedded.start()
    admin = create_engine(embedded.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('drop database "dagster"'))
        conn.execute(text('create database "shop"'))
        conn.execute(text(f"create role {CLERK} login nocreatedb"))
        conn.execute(text(f"grant all on database shop to {CLERK}"))
    admin.dispose()
    try:
        yield embedded.url("postgres")
    finally:
        embedded.stop()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def only_warehouse_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No storage URL in the environment; the caller sets the warehouse URL."""
    monkeypatch.delenv(DAGSTER_STORAGE_URL_ENV, raising=False)
    connection.warehouse_url.cache_clear()
    yield monkeypatch
    connection.warehouse_url.cache_clear()


def _databases(admin_url: URL) -> set[str]:
    engine = create_engine(admin_url)
    with engine.connect() as conn:
        names = set(conn.execute(text("select datname from pg_database")).scalars())
    engine.dispose()
    return names


def _drop_storage(admin_url: URL) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text('drop database if exists "dagster" with (force)'))
    engine.dispose()


def test_a_login_that_may_create_gets_its_storage_database(fresh_server: URL, only_warehouse_url: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    """The instance dagster.yaml describes loads on a fresh server with only the warehouse URL set."""
    _drop_storage(fresh_server)
    only_warehouse_url.setenv(WAREHOUSE_URL_ENV, fresh_server.set(database="shop").render_as_string(False))
    shutil.copyfile(project_root() / "dagster.yaml", tmp_path / "dagster.yaml")
    only_warehouse_url.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_runs_count() == 0
    assert "dagster" in _databases(fresh_server)
    # A second process meeting the database that now exists just uses it.
    assert ensure_storage_database().database == "dagster"


def test_a_login_that_may_not_create_is_told_what_to_do(fresh_server: URL,
                                                       only_warehouse_url: pytest.MonkeyPatch) -> None:
    _drop_storage(fresh_server)
    only_warehouse_url.setenv(WAREHOUSE_URL_ENV,
                              fresh_server.set(database="shop", username=CLERK).render_as_string(False))
    with pytest.raises(StorageUnavailable) as raised:
        ensure_storage_database()
    message = str(raised.value)
    assert 'create database "dagster" owner "clerk"' in message
    assert DAGSTER_STORAGE_URL_ENV in message
    assert "dagster" not in _databases(fresh_server)


def test_a_configured_storage_database_is_created_too(fresh_server: URL,
                                                      only_warehouse_url: pytest.MonkeyPatch) -> None:
    only_warehouse_url.setenv(WAREHOUSE_URL_ENV, fresh_server.set(database="shop").render_as_string(False))
    only_warehouse_url.setenv(DAGSTER_STORAGE_URL_ENV,
                              fresh_server.set(database="runs_history").render_as_string(False))
    assert ensure_storage_database().database == "runs_history"
    assert "runs_history" in _databases(fresh_server)


def test_sync_stops_at_once_with_one_sentence(fresh_server: URL) -> None:
    """What the user met: six retries and a traceback. Now one line, exit 1, before the sandbox starts."""
    _drop_storage(fresh_server)
    env = {k: v for k, v in os.environ.items() if k not in (DAGSTER_STORAGE_URL_ENV, "DAGSTER_HOME")}
    env[WAREHOUSE_URL_ENV] = fresh_server.set(database="shop", username=CLERK).render_as_string(False)
    env["GREENLIGHT_SANDBOX"] = "1"
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "greenlight_dagster.cli", "sync"], env=env, capture_output=True,
                         text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and 'create database "dagster"' in errors[0] and DAGSTER_STORAGE_URL_ENV in errors[0]
    assert "sandbox:" not in out.stderr, "the sandbox must not start before the storage is known to work"
    assert elapsed < 30, f"took {elapsed:.0f} s"
