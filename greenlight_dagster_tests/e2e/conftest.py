"""Shared by the end-to-end syncs: a warehouse emptied for a first sync on a fresh world."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from greenlight_dagster_tests.databases import OPS_TABLES, RAW, empty


@pytest.fixture
def clean_warehouse(warehouse_engine: Engine) -> Engine:
    """Empty landing zone, ledger, run records, flags, every table dbt keeps (snapshots and incremental
    models) and the marks of what dbt built: a first sync on a fresh world. An incremental model left
    over from an earlier test kept that world's later version of a work order (its push moved the
    modified time past the new world's)."""
    with warehouse_engine.connect() as conn:
        built = [f'{schema}."{name}"' for schema, name in conn.execute(text(
            "select table_schema, table_name from information_schema.tables where table_schema in "
            "('snapshots', 'staging', 'marts', 'push_candidates') and table_type = 'BASE TABLE'"))]
    empty(warehouse_engine, *RAW, *OPS_TABLES, *built)
    return warehouse_engine
