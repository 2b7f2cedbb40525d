"""The sync under test: isolated warehouses, full cycles against the sandbox, and state fingerprints.

Why an isolated database per scenario: the comparisons are between whole warehouses (a
fault-free run and a faulty one of the same seed), and dbt's SCD2 snapshots keep history that
a truncate of ``raw.*`` would not clear. So every world gets its own database on the session's
PostgreSQL server, created empty, migrated by the sync itself and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.warehouse import connection, migrate


@contextmanager
def isolated_database(server_url: URL) -> Iterator[URL]:
    """A new, empty database on the server of ``server_url``, dropped (forcibly) on exit."""
    name = f"glrel_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'create database "{name}"'))
        yield server_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@contextmanager
def warehouse_in_force(url: URL) -> Iterator[Engine]:
    """Point every resource of this process (and its children) at ``url``; restore the previous one on exit.

    `connection.warehouse_url` is cached per process, so the cache is cleared on the way in
    and again on the way out - otherwise later tests would keep talking to a dropped database.
    """
    saved = os.environ.get(connection.WAREHOUSE_URL_ENV)
    os.environ[connection.WAREHOUSE_URL_ENV] = url.render_as_string(hide_password=False)
    connection.warehouse_url.cache_clear()
    engine = create_engine(url, pool_pre_ping=True)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        if saved is None:
            os.environ.pop(connection.WAREHOUSE_URL_ENV, None)
        else:
            os.environ[connection.WAREHOUSE_URL_ENV] = saved
        connection.warehouse_url.cache_clear()
