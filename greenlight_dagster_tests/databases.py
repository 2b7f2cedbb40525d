"""Scratch databases beside the session warehouse, for scenarios that need a dbt build of their own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.warehouse import migrate


@contextmanager
def migrated_database(warehouse_url: URL, prefix: str) -> Iterator[tuple[URL, Engine]]:
    """A fresh, migrated database of its own beside the session warehouse, for a dbt scenario.

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
        migrate.upgrade(engine)
        yield url, engine
    finally:
        engine.dispose()
        if url.host is not None:
            with admin.connect() as conn:
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
