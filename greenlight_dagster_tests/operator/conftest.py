"""Fixtures of the operator tests: a CLI runner on the session warehouse, an outbox in a known
state, and a warehouse with built marts for the commands and the report that read them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from greenlight_dagster.cli import main
from greenlight_dagster.core.flags import ENV_VARS
from greenlight_dagster.core.ledger import ErrorClass, Failed
from greenlight_dagster.core.plan import PlannedWrite
from greenlight_dagster.defs.warehouse.resources import make_dbt_resource
from greenlight_dagster.warehouse import connection
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster.warehouse.loader import load_records
from greenlight_dagster_tests.databases import OUTBOX_STATE, empty, migrated_database
from greenlight_dagster_tests.factories import source_record
from greenlight_dagster_tests.push.conftest import clean_ops
from greenlight_dagster_tests.warehouse_model import scenario

__all__ = ["clean_ops"]
T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)


class Greenlight:
    """`greenlight ...` run in-process, as an operator's shell would, against one warehouse."""

    def __init__(self, runner: CliRunner) -> None:
        self.runner = runner

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def greenlight(warehouse_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Greenlight:
    """The CLI with no flag variables set (defaults apply) and its data dir in tmp."""
    monkeypatch.setenv("GREENLIGHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: assertions read whole table cells
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    return Greenlight(CliRunner())


def dead_letter(store: LedgerStore, wo_id: int, reason: str) -> int:
    """A create_job for ``wo_id`` that failed permanently: one dead letter; returns its ledger id."""
    store.record_plan([PlannedWrite.of("sf", "create_job", wo_id, {"po_number": f"PW-{wo_id}"})], now=T0,
                      withdraw_unplanned=False)
    with store.worker() as worker:
        claimed = worker.claim_next("sf", ["create_job"], now=T0)
        assert claimed is not None
        dead = worker.finish(claimed[1], Failed(T0, ErrorClass.PERMANENT, reason))
    assert dead.id is not None
    return dead.id


#: Linked PW work orders and SF jobs that disagree, each in one way the drift table must explain.
DRIFT_WORK_ORDERS = [
    scenario.work_order(9100, 20, 200, "Completed"),  # closed in PW, SF job still scheduled
    scenario.work_order(9101, 20, 200, "Open"),  # SF job completed, PW still open
]
DRIFT_JOBS = [
    {"id": 8100, "number": "100", "customer_id": 7001, "status": "Scheduled", "po_number": "PW-9100"},
    {"id": 8101, "number": "101", "customer_id": 7001, "status": "Completed", "po_number": "PW-9101"},
    {"id": 8102, "number": "102", "customer_id": 7001, "status": "Scheduled", "po_number": "PW-9999"},  # unknown WO
]


@pytest.fixture(scope="package")
def marts_url(warehouse_url: URL) -> Iterator[URL]:
    """A database of its own with the warehouse scenario (plus drift records) built by dbt."""
    with migrated_database(warehouse_url, "op") as (url, engine):
        scenario.land_round_1(engine)
        for source, entity, payloads in (("pw", "work_orders", DRIFT_WORK_ORDERS), ("sf", "jobs", DRIFT_JOBS)):
            load_records(engine, source, entity, [source_record(entity, p, scenario.T0) for p in payloads],
                         run_id="op-drift")
        make_dbt_resource(url.render_as_string(hide_password=False)).cli(["build"], raise_on_error=False).wait()
        yield url


@pytest.fixture
def marts_engine(marts_url: URL, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The built warehouse, made the one every command and resource in this test resolves to."""
    monkeypatch.setenv(connection.WAREHOUSE_URL_ENV, marts_url.render_as_string(hide_password=False))
    connection.warehouse_url.cache_clear()
    engine = create_engine(marts_url)
    empty(engine, *OUTBOX_STATE)
    yield engine
    engine.dispose()
    connection.warehouse_url.cache_clear()
