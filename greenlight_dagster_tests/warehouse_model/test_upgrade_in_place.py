"""A warehouse built by an older version of the models syncs on after an upgrade.

Incremental models read columns of their own table (and of the snapshot) to find what changed.
A warehouse built before those columns existed must rebuild from everything once, not fail its
first sync after the upgrade: the failure the load scenario hit when `fact_work_orders` became
incremental between two of its cycles ("column raw_version_id does not exist").

The unit, lease and tenant snapshots once read the whole current state with dbt's
hard_deletes: new_record (a `dbt_is_deleted` column, deletion rows stamped at snapshot time, no
`_is_deleted`); they now read only what they have not recorded and take deletions as versions of
their own (docs/decisions/0009). Such a snapshot must carry on in place: its old deletion rows
stay the current (deleted) state, a new deletion is one version, and nothing is recorded twice.

Two whole dbt builds (the older layout, then the current one): a `make reliability` scenario.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.clients.records import SourceRecord
from greenlight_dagster.defs.warehouse.resources import make_dbt_resource
from greenlight_dagster.warehouse.loader import load_records, mark_deleted
from greenlight_dagster_tests.databases import migrated_database
from greenlight_dagster_tests.warehouse_model import scenario

pytestmark = pytest.mark.reliability

#: What an older build lacks: the columns the incremental filters read.
OLDER_BUILD = (
    "alter table marts.fact_work_orders drop column raw_version_id",
    "alter table snapshots.snap_pw_work_orders drop column _version_id",
)
#: The snapshots that recorded deletions with dbt's hard_deletes: new_record, and their keys.
NEW_RECORD_SNAPSHOTS = {"snap_pw_units": "unit_id", "snap_pw_leases": "lease_id", "snap_pw_tenants": "tenant_id"}
#: Unit 102 was deleted before the upgrade (an old-style deletion row), 301 is deleted after it,
#: 101 is renamed after it.
DELETED_BEFORE, DELETED_AFTER, RENAMED = scenario.DELETED_UNIT, 301, 101


def _as_new_record_snapshot(conn: Connection, name: str) -> None:
    """Give a snapshot the shape hard_deletes: new_record left: dbt_is_deleted, no _is_deleted."""
    conn.execute(text(f"alter table snapshots.{name} drop column _is_deleted"))
    conn.execute(text(f"alter table snapshots.{name} add column dbt_is_deleted text"))
    conn.execute(text(f"update snapshots.{name} set dbt_is_deleted = 'False'"))
    conn.execute(text(f"drop index if exists snapshots.{name}__{NEW_RECORD_SNAPSHOTS[name]}"))
    conn.execute(text(f"drop index if exists snapshots.{name}__version_id"))


def _record_deletion_as_new_record(conn: Connection, unit_id: int) -> None:
    """What dbt's hard_deletes: new_record did for a unit absent from staging: close its current
    row at snapshot time and insert a copy of it flagged dbt_is_deleted = 'True', valid from then."""
    columns = [c for c in conn.execute(text(
        "select column_name from information_schema.columns where table_schema = 'snapshots' "
        "and table_name = 'snap_pw_units' order by ordinal_position")).scalars()
        if c not in {"dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to", "dbt_is_deleted"}]
    listed = ", ".join(columns)
    conn.execute(text(
        f"with closed as (update snapshots.snap_pw_units set dbt_valid_to = now() "
        f"where unit_id = :u and dbt_valid_to is null returning *) "
        f"insert into snapshots.snap_pw_units ({listed}, dbt_scd_id, dbt_updated_at, dbt_valid_from, dbt_valid_to, "
        f"dbt_is_deleted) select {listed}, md5(dbt_scd_id || now()::text), now(), now(), null, 'True' from closed"),
        {"u": unit_id})


@pytest.fixture(scope="module")
def upgraded(warehouse_url: URL) -> Iterator[tuple[Engine, bool]]:
    with migrated_database(warehouse_url, "up") as (url, engine):
        dbt = make_dbt_resource(url.render_as_string(hide_password=False))
        scenario.land_round_1(engine)
        dbt.cli(["build", "--exclude", "resource_type:test"]).wait()
        # unit 102 disappears; the old build's staging took the tombstone, its snapshot a deletion row
        mark_deleted(engine, "pw", "units", [u["id"] for u in scenario.UNITS if u["id"] != DELETED_BEFORE],
                     run_id="up-r1")
        dbt.cli(["build", "--select", "stg_pw_units_latest", "--exclude", "resource_type:test"]).wait()
        with engine.begin() as conn:
            for statement in OLDER_BUILD:
                conn.execute(text(statement))
            for name in NEW_RECORD_SNAPSHOTS:
                _as_new_record_snapshot(conn, name)
            _record_deletion_as_new_record(conn, DELETED_BEFORE)
        scenario.land_round_2(engine)
        renamed = next(u for u in scenario.UNITS if u["id"] == RENAMED)
        load_records(engine, "pw", "units",
                     [SourceRecord(entity="units", source_id=RENAMED, modified_at=scenario.T1,
                                   payload={**renamed, "name": "Unit B (renovated)",
                                            "lastModifiedDateTime": scenario.T1.isoformat()})],
                     run_id="up-r2")
        mark_deleted(engine, "pw", "units",
                     [u["id"] for u in scenario.UNITS if u["id"] not in {DELETED_BEFORE, DELETED_AFTER}],
                     run_id="up-r2")
        load_records(engine, "pw", "tenants",
                     [SourceRecord(entity="tenants", source_id=501, modified_at=scenario.T2,
                                   payload={**scenario.CHANGED_TENANT,
                                            "lastModifiedDateTime": scenario.T2.isoformat()})],
                     run_id="up-r2")
        run = dbt.cli(["build", "--exclude", "resource_type:test"], raise_on_error=False).wait()
        success = run.is_successful()
        if success:  # and once more with nothing landed: the snapshots must add nothing
            with engine.connect() as conn:
                before = _snapshot_rows(conn)
            selection = " ".join(f"+{name}" for name in NEW_RECORD_SNAPSHOTS)  # one argument: dagster-dbt reorders
            again = dbt.cli(["build", "--select", selection, "--exclude", "resource_type:test"],
                            raise_on_error=False).wait()
            with engine.connect() as conn:
                success = again.is_successful() and _snapshot_rows(conn) == before
        yield engine, success


def _snapshot_rows(conn: Connection) -> list[tuple[object, ...]]:
    return [tuple(row) for name in NEW_RECORD_SNAPSHOTS for row in conn.execute(text(
        f"select dbt_scd_id, dbt_valid_to from snapshots.{name} order by dbt_scd_id"))]


def test_first_build_after_the_upgrade_succeeds(upgraded: tuple[Engine, bool]) -> None:
    _, success = upgraded
    assert success, ("a warehouse built before raw_version_id existed, or with new_record snapshots, must keep "
                     "building, and a second build with nothing landed must add no snapshot row")


def test_history_is_whole_after_the_upgrade(upgraded: tuple[Engine, bool]) -> None:
    engine, _ = upgraded
    with engine.connect() as conn:
        columns = set(conn.execute(text(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fact_work_orders'")).scalars())
        assert "raw_version_id" in columns, "on_schema_change adds the column back"
        statuses = list(conn.execute(text(
            "select status from marts.fact_work_orders where work_order_id = 9000 order by version_number")).scalars())
        assert statuses == ["Open", "Scheduled"], "round 2's change is a version of its own"
        several_current = conn.execute(text(
            "select count(*) from (select work_order_id from marts.fact_work_orders where is_current "
            "group by work_order_id having count(*) > 1) as doubled")).scalar_one()
        assert several_current == 0


def _unit_versions(conn: Connection, unit_id: int) -> list[dict[str, object]]:
    return [dict(row._mapping) for row in conn.execute(text(
        "select unit_name, dbt_is_deleted, _is_deleted, dbt_valid_from, dbt_valid_to from snapshots.snap_pw_units "
        "where unit_id = :u order by dbt_valid_from, dbt_scd_id"), {"u": unit_id})]


def test_new_record_snapshots_carry_on_in_place(upgraded: tuple[Engine, bool]) -> None:
    engine, _ = upgraded
    with engine.connect() as conn:
        for name, key in NEW_RECORD_SNAPSHOTS.items():
            columns = set(conn.execute(text(
                "select column_name from information_schema.columns "
                "where table_schema = 'snapshots' and table_name = :t"), {"t": name}).scalars())
            assert {"_is_deleted", "dbt_is_deleted"} <= columns, name
            doubled = conn.execute(text(
                f"select count(*) from (select {key} from snapshots.{name} group by 1 "
                "having count(*) filter (where dbt_valid_to is null) <> 1) as bad")).scalar_one()
            assert doubled == 0, f"{name}: every key has exactly one current row"

        # deleted before the upgrade: its old deletion row stays current, its tombstone is not recorded again
        before = _unit_versions(conn, DELETED_BEFORE)
        assert [(v["dbt_is_deleted"], v["dbt_valid_to"] is None) for v in before] == [("False", False), ("True", True)]

        # deleted after it: one deletion version, valid from when the tombstone landed
        after = _unit_versions(conn, DELETED_AFTER)
        assert [(v["_is_deleted"], v["dbt_valid_to"] is None) for v in after] == [(None, False), (True, True)]
        landed = conn.execute(text("select _loaded_at from raw.pw_units where source_id = :u and _is_deleted"),
                              {"u": DELETED_AFTER}).scalar_one()
        assert after[0]["dbt_valid_to"] == after[1]["dbt_valid_from"] == landed

        renamed = _unit_versions(conn, RENAMED)
        assert [(v["unit_name"], v["dbt_valid_from"], v["dbt_valid_to"]) for v in renamed] == [
            ("Unit B", scenario.T0, scenario.T1), ("Unit B (renovated)", scenario.T1, None)]
        emails = list(conn.execute(text(
            "select email from snapshots.snap_pw_tenants where tenant_id = 501 order by dbt_valid_from")).scalars())
        assert emails == ["bob@example.com", "bob.lee@example.com"]
