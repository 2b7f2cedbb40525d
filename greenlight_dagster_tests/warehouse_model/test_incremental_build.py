"""The dbt step builds only what changed (decision 0017), through Dagster as a sync runs it.

One database, materialized four times: a first build, a run with nothing landed (dbt does not
start), a run after one new work-order version (exactly what reads ``raw.pw_work_orders``) and
a forced run. Reused nodes still yield their Output, so downstream steps of a sync run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.clients.records import SourceRecord
from greenlight_dagster.defs.warehouse.assets import dbt_warehouse_assets
from greenlight_dagster.defs.warehouse.project import dbt_project
from greenlight_dagster.defs.warehouse.resources import make_dbt_resource
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.warehouse.build_marks import MARKER_QUERIES
from greenlight_dagster.warehouse.dbt_graph import WarehouseNodes
from greenlight_dagster.warehouse.loader import load_records
from greenlight_dagster_tests.databases import migrated_database
from greenlight_dagster_tests.warehouse_model import scenario

NODES = WarehouseNodes.from_manifest(json.loads(dbt_project.manifest_path.read_text()))


def _statuses(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Asset name -> the ``status`` of its materialization in ``result``."""
    return {event.asset_key.path[-1]: str(event.step_materialization_data.materialization.metadata["status"].value)
            for event in result.get_asset_materialization_events()}


class Builds:
    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.resources = {"dbt": make_dbt_resource(url), "warehouse": WarehouseResource(url=url)}
        self.instance = dg.DagsterInstance.ephemeral()  # one event log: reused checks find earlier outcomes

    def run(self, **config: Any) -> dg.ExecuteInProcessResult:
        run_config = {"ops": {"dbt_warehouse": {"config": config}}} if config else None
        result = dg.materialize([dbt_warehouse_assets], resources=self.resources, run_config=run_config,
                                instance=self.instance)
        assert result.success
        return result

    def marks(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(text("select unique_id, run_id from ops.dbt_node_marks")).all())


@pytest.fixture(scope="module")
def builds(warehouse_url: URL) -> Iterator[Builds]:
    with migrated_database(warehouse_url, "ib") as (url, engine):
        scenario.land_round_1(engine)
        yield Builds(engine, url.render_as_string(hide_password=False))


@pytest.fixture(scope="module")
def first(builds: Builds) -> dg.ExecuteInProcessResult:
    return builds.run()


def test_the_first_build_builds_every_node_and_records_it(builds: Builds, first: dg.ExecuteInProcessResult) -> None:
    statuses = _statuses(first)
    assert set(statuses) == set(NODES.names.values())
    assert "reused" not in statuses.values()
    assert set(builds.marks()) == set(NODES.names)


def test_with_nothing_landed_dbt_does_not_start_and_every_node_is_reused(
        builds: Builds, first: dg.ExecuteInProcessResult) -> None:
    marks = builds.marks()
    second = builds.run()
    assert set(_statuses(second).values()) == {"reused"}
    assert builds.marks() == marks
    checks = {e.check_name: e for e in second.get_asset_check_evaluations()}
    first_checks = {e.check_name: e for e in first.get_asset_check_evaluations()}
    assert set(checks) == set(first_checks), "every check carries its latest outcome"
    assert {e.metadata["status"].value for e in checks.values()} == {"reused"}, "no dbt test ran: dbt did not start"
    failing = {n for n, e in first_checks.items() if not e.passed}
    assert failing and {n for n, e in checks.items() if not e.passed} == failing, "a failing test stays failing"


def test_a_new_work_order_version_builds_exactly_what_reads_it(
        builds: Builds, first: dg.ExecuteInProcessResult) -> None:
    modified = scenario.T2 + timedelta(days=1)
    payload = scenario.work_order(9003, 20, None, "Open", description="leak fixed, paint pending",
                                  lastModifiedDateTime=modified.isoformat())
    load_records(builds.engine, "pw", "work_orders",
                 [SourceRecord(entity="work_orders", source_id=9003, modified_at=modified, payload=payload)],
                 run_id="ib-new-version")
    third = builds.run()
    expected = {NODES.names[uid] for uid in NODES.names if "raw.pw_work_orders" in NODES.graph.upstream_sources(uid)}
    built = {name for name, status in _statuses(third).items() if status != "reused"}
    assert built == expected
    assert "fact_work_orders" in built and "dim_tenant" not in built
    with builds.engine.connect() as conn:
        assert conn.execute(text("select description from marts.fact_work_orders where work_order_id = 9003 "
                                 "and is_current")).scalar() == "leak fixed, paint pending"


def test_a_dropped_relation_and_a_flag_change_rebuild_what_they_reach(
        builds: Builds, first: dg.ExecuteInProcessResult) -> None:
    with builds.engine.begin() as conn:
        conn.execute(text("drop view staging.stg_sf_techs"))
        conn.execute(text("insert into ops.flags (name, value) values ('pw_open_statuses', 'Open')"))
    built = {name for name, status in _statuses(builds.run()).items() if status != "reused"}
    assert {"stg_sf_techs", "dim_status"} <= built
    assert "dim_unit" not in built


def _dbt_log(run_id: str) -> str:
    """dbt.log of the run's dbt invocation (dagster-dbt names its directory ``<op>-<run id[:7]>-<id>``)."""
    (directory,) = (dbt_project.project_dir / "target").glob(f"dbt_warehouse-{run_id[:7]}-*")
    return (directory / "dbt.log").read_text()


def test_rebuild_all_builds_everything_from_the_kept_parse(builds: Builds, first: dg.ExecuteInProcessResult) -> None:
    rebuilt = builds.run(rebuild_all=True)
    assert "reused" not in _statuses(rebuilt).values()
    # an earlier build on this database kept its parse (keep_partial_parse): dbt does not parse the project again
    log = _dbt_log(rebuilt.run_id)
    assert "Partial parsing enabled" in log and "Unable to do partial parsing" not in log, log[:3000]


def test_every_source_a_table_reads_has_a_marker() -> None:
    """Untracked sources may feed views only: a table reading one would never be rebuilt for it."""
    tables = [uid for uid, kind in NODES.materialized.items() if kind != "view"]
    untracked = {NODES.names[uid]: sorted(NODES.graph.upstream_sources(uid) - set(MARKER_QUERIES)) for uid in tables}
    assert {name: sources for name, sources in untracked.items() if sources} == {}
