"""Fixtures of the ingestion tests: an empty landing zone before each test that asks for one."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.warehouse.tables import RAW_TABLES


@pytest.fixture
def clean_raw(warehouse_engine: Engine) -> Engine:
    """Truncate every raw table, the error log, the watermarks and any dbt snapshot: each test starts from nothing.

    The snapshots go too because history built from an earlier test's raw rows would see every
    record "deleted" by the truncation and "revived" by this test's loads, with the old timestamps.
    """
    names = [f"raw.{t.name}" for t in RAW_TABLES.values()]
    with warehouse_engine.begin() as conn:
        names += [f"snapshots.{name}" for name in conn.execute(text(
            "select table_name from information_schema.tables where table_schema = 'snapshots'")).scalars()]
        conn.execute(text(f"truncate {', '.join(names)}, ops.error_log, ops.watermarks restart identity"))
    return warehouse_engine
