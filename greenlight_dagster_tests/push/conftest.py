"""Fixtures of the push tests: an empty outbox before each test that asks for one."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.warehouse.ledger_store import LedgerStore


@pytest.fixture
def clean_ops(warehouse_engine: Engine) -> Engine:
    """Truncate the ledger, dead letters, dedup log, runs, flags and watermarks: each test starts from nothing."""
    with warehouse_engine.begin() as conn:
        conn.execute(text("truncate ops.sync_ledger, ops.dead_letter, ops.duplicate_detection_log, ops.sync_runs, "
                          "ops.flags, ops.error_log, ops.watermarks restart identity"))
    return warehouse_engine


@pytest.fixture
def store(clean_ops: Engine) -> LedgerStore:
    return LedgerStore(clean_ops)
