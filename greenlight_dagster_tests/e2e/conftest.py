"""Shared by the end-to-end syncs: a warehouse emptied for a first sync on a fresh world."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.warehouse.tables import RAW_TABLES


@pytest.fixture
def clean_warehouse(warehouse_engine: Engine) -> Engine:
    """Empty landing zone, ledger, run records, flags and dbt snapshots: a first sync on a fresh world."""
    with warehouse_engine.begin() as conn:
        names: list[str] = list(conn.execute(text(
            "select table_name from information_schema.tables where table_schema = 'snapshots' "
            "and table_type = 'BASE TABLE'")).scalars())
        snapshots = [f'snapshots."{name}"' for name in names]
        tables = [f"raw.{t.name}" for t in RAW_TABLES.values()] + snapshots + [
            "ops.sync_ledger", "ops.dead_letter", "ops.duplicate_detection_log", "ops.watermarks", "ops.error_log",
            "ops.sync_runs", "ops.flags"]
        conn.execute(text(f"truncate {', '.join(tables)} restart identity"))
    return warehouse_engine
