"""Fixtures of the ingestion tests: an empty landing zone before each test that asks for one."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.warehouse.tables import RAW_TABLES


@pytest.fixture
def clean_raw(warehouse_engine: Engine) -> Engine:
    """Truncate every raw table, the error log and the watermarks: each test starts from nothing."""
    names = ", ".join(f"raw.{t.name}" for t in RAW_TABLES.values())
    with warehouse_engine.begin() as conn:
        conn.execute(text(f"truncate {names}, ops.error_log, ops.watermarks restart identity"))
    return warehouse_engine
