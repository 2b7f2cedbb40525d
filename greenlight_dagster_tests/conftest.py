"""Session-wide fixtures: one real PostgreSQL warehouse per test session.

Default: an embedded PostgreSQL in a temporary directory (a user's fresh machine has no
server). With ``GREENLIGHT_TEST_DATABASE_URL`` set (e.g. the machine's server at
127.0.0.1:5432), a fresh database is created on that server instead and dropped afterwards.
Either way ``GREENLIGHT_WAREHOUSE_URL`` is exported so every resource in the process
resolves to the same warehouse.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.instance.environ import environment_set
from greenlight_dagster.warehouse import connection, migrate
from greenlight_dagster.warehouse.connection import normalize_url
from greenlight_dagster.warehouse.embedded import EmbeddedWarehouse

TEST_DB_ENV = "GREENLIGHT_TEST_DATABASE_URL"

#: ``sandbox`` (one small world per session) and ``fresh_sandbox`` (reset before each test).
pytest_plugins = ["greenlight_dagster_tests.sandbox_fixtures"]


def make_server_dir() -> Path:
    """A short, world-traversable temp dir for an embedded server.

    Short: unix-socket paths are limited to ~100 bytes. Traversable: as root the server runs
    as the ``pgserver`` user, which cannot enter pytest's 0700 temp tree.
    """
    path = Path(tempfile.mkdtemp(prefix="glwh-"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def warehouse_root() -> Iterator[Path]:
    path = make_server_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A fresh `make_server_dir` for tests that start their own embedded server."""
    path = make_server_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def warehouse_url(warehouse_root: Path) -> Iterator[URL]:
    server_url = os.environ.get(TEST_DB_ENV)
    if server_url:
        admin_url = normalize_url(server_url)
        name = f"greenlight_test_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'create database "{name}"'))
            conn.execute(text(f'create database "{name}_dagster"'))
        url = admin_url.set(database=name)
        dagster_url = admin_url.set(database=f"{name}_dagster")
        stop = None
    else:
        embedded = EmbeddedWarehouse(warehouse_root)
        url = embedded.start()
        dagster_url = embedded.url("dagster")
        stop = embedded.stop
    try:
        with environment_set({connection.WAREHOUSE_URL_ENV: url.render_as_string(hide_password=False),
                              connection.DAGSTER_STORAGE_URL_ENV: dagster_url.render_as_string(hide_password=False)}):
            connection.warehouse_url.cache_clear()
            yield url
    finally:
        connection.warehouse_url.cache_clear()
        if stop is not None:
            stop()
        else:
            with admin.connect() as conn:
                for db in (name, f"{name}_dagster"):
                    conn.execute(text(f'drop database if exists "{db}" with (force)'))
            admin.dispose()


@pytest.fixture(scope="session")
def warehouse_engine(warehouse_url: URL) -> Iterator[Engine]:
    """A migrated engine on the session warehouse."""
    engine = create_engine(warehouse_url, pool_pre_ping=True)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver's ``httpserver`` on IPv4 loopback and a free port ("localhost" may resolve to ::1)."""
    return "127.0.0.1", 0
