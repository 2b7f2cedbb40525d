"""Scratch databases beside the session warehouse, and emptying the tables a test needs empty."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, Table, create_engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.warehouse import migrate
from greenlight_dagster.warehouse.tables import (
    RAW_TABLES,
    dead_letter,
    duplicate_detection_log,
    flags,
    metadata,
    sync_ledger,
    sync_runs,
)

#: What pushes and runs leave behind: the outbox, its dead letters and dedup log, run rows, flag overrides.
OUTBOX_STATE: tuple[Table, ...] = (sync_ledger, dead_letter, duplicate_detection_log, sync_runs, flags)
#: Every ops table the code owns (tables.py), and every raw landing table.
OPS_TABLES: tuple[Table, ...] = tuple(t for t in metadata.sorted_tables if t.schema == "ops")
RAW: tuple[Table, ...] = tuple(RAW_TABLES.values())


def empty(engine: Engine, *tables: Table | str) -> None:
    """Truncate ``tables`` (Table objects or qualified names) in one statement and restart their ids."""
    names = [t.fullname if isinstance(t, Table) else t for t in tables]
    with engine.begin() as conn:
        conn.execute(text(f"truncate {', '.join(names)} restart identity"))


@contextmanager
def migrated_database(warehouse_url: URL, prefix: str,
                      revision: str | None = None) -> Iterator[tuple[URL, Engine]]:
    """A fresh database of its own beside the session warehouse, migrated to ``revision`` (default
    head), for a dbt scenario or the state a migration starts from.

    Only a TCP server's database is dropped afterwards: the embedded test server is thrown away
    whole, and DROP DATABASE forces a checkpoint, which crashes it when the suite runs as root
    (its data dir sits under root's 0700 pytest temp dir).
    """
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(warehouse_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    url = warehouse_url.set(database=name)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine, revision)
        yield url, engine
    finally:
        engine.dispose()
        if url.host is not None:
            with admin.connect() as conn:
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
