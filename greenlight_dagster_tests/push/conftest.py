"""Fixtures of the push tests: an empty outbox, and the push world on its own servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster.warehouse.tables import error_log, watermarks
from greenlight_dagster_tests.databases import OUTBOX_STATE, empty

from .sandbox_world import Sandbox, running_sandbox


@pytest.fixture
def clean_ops(warehouse_engine: Engine) -> Engine:
    """Truncate the ledger, dead letters, dedup log, runs, flags and watermarks: each test starts from nothing."""
    empty(warehouse_engine, *OUTBOX_STATE, error_log, watermarks)
    return warehouse_engine


@pytest.fixture
def store(clean_ops: Engine) -> LedgerStore:
    return LedgerStore(clean_ops)


@pytest.fixture
def push_world() -> Iterator[Sandbox]:
    """The hand-built push world (sandbox_world.py) served by its own PW and SF servers, for this test alone."""
    with running_sandbox() as running:
        yield running


@pytest.fixture
def configured_world(monkeypatch: pytest.MonkeyPatch, push_world: Sandbox) -> Sandbox:
    """The push world, with the deployment's endpoints (the environment, sandbox flag for http) on its servers."""
    monkeypatch.setenv("GREENLIGHT_SANDBOX_ENDPOINTS", "1")
    monkeypatch.setenv("GREENLIGHT_PW_WSDL_URL", f"{push_world.pw.base_url}/pw/services/PWServices?wsdl")
    monkeypatch.setenv("GREENLIGHT_SF_BASE_URL", f"{push_world.sf.base_url}/v1")
    monkeypatch.setenv("GREENLIGHT_SF_TOKEN_URL", f"{push_world.sf.base_url}/oauth/access_token")
    return push_world
