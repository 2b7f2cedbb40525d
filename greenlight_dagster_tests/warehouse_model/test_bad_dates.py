"""Dates that are not dates: the build goes on, the value is NULL, and the record is reported.

PostgreSQL's ``::date`` raises on ``2026-02-30``; in an incremental staging model that failed
every build until the source was fixed, so no work order anywhere got its job. Here a world
whose work orders, leases and SF jobs carry every kind of bad date is built twice (full, then
incremental with one more bad version) on a database of its own: both builds succeed, each bad
value reads as NULL beside the good values of the same record, and ``audit.bad_source_values``
names each record, field and raw value - the only test on it warns, it does not fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.clients.records import SourceRecord
from greenlight_dagster.core.fields import as_timestamp
from greenlight_dagster.defs.warehouse.resources import make_dbt_resource
from greenlight_dagster.warehouse.candidates import CANDIDATES_SCHEMA
from greenlight_dagster.warehouse.loader import load_records
from greenlight_dagster_tests.databases import migrated_database
from greenlight_dagster_tests.warehouse_model.test_custom_tests_can_fail import CLEAN

AT = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)

#: work order id -> the startDate it carries; None of these is a date.
BAD_START_DATES = {
    9200: "2026-02-30",  # no such day
    9201: "0000-01-01",  # no year 0
    9202: "2026-13-01T10:00:00Z",  # month 13
    9203: "2026-01-01T25:00:00Z",  # hour 25
    9204: "2026-01-01 (approx)",  # trailing text
    9205: "9999-12-31",  # far future: a placeholder, not a day
    9206: "2025-02-29",  # not a leap year
    9207: "next tuesday",
}
GOOD_DATES = {"2024-02-29": date(2024, 2, 29), "2026-01-31T23:59:59.5-06:00": date(2026, 1, 31),
              " 2026-03-01 ": date(2026, 3, 1)}


def _record(source: str, entity: str, payload: dict[str, Any], at: datetime) -> SourceRecord:
    stamp = "updated_at" if source == "sf" else "lastModifiedDateTime"
    return SourceRecord(entity=entity, source_id=int(payload["id"]), modified_at=at,
                        payload={**payload, stamp: at.isoformat().replace("+00:00", "Z")})


def _work_order(wo_id: int, **dates: str) -> dict[str, Any]:
    return {"id": wo_id, "number": wo_id - 8000, "portfolioID": 1, "buildingID": 10, "unitID": 100,
            "status": "Open", "priority": "Normal", "category": "Plumbing", "description": f"Work order {wo_id}",
            "createdDateTime": "2026-02-01T08:00:00Z", **dates}


def _land(engine: Engine, world: dict[tuple[str, str], list[dict[str, Any]]], at: datetime) -> None:
    for (source, entity), rows in world.items():
        load_records(engine, source, entity, [_record(source, entity, row, at) for row in rows], run_id=f"bad-{at:%d}")


@pytest.fixture(scope="module")
def warehouse(warehouse_url: URL) -> Iterator[tuple[Engine, dict[str, str], dict[str, str]]]:
    with migrated_database(warehouse_url, "bd") as (url, engine):
        dbt = make_dbt_resource(url.render_as_string(hide_password=False))
        world = dict(CLEAN)
        world[("pw", "work_orders")] = [
            *CLEAN[("pw", "work_orders")],
            *(_work_order(wo_id, startDate=value, scheduledEndDate="2026-03-01") for wo_id, value in
              BAD_START_DATES.items()),
            *(_work_order(9210 + i, startDate=value) for i, value in enumerate(GOOD_DATES)),
        ]
        world[("pw", "leases")] = [{**CLEAN[("pw", "leases")][0], "endDate": "2026-06-31"}]
        world[("sf", "jobs")] = [{**CLEAN[("sf", "jobs")][0], "closed_at": "2026-01-05T24:30:00Z",
                                  "created_at": "2026-01-04T10:00:00Z"}]
        _land(engine, world, AT)
        first = dbt.cli(["build"], raise_on_error=False).wait().get_artifact("run_results.json")
        # incremental: one more bad version of a good work order, and a bad one corrected
        _land(engine, {("pw", "work_orders"): [_work_order(9100, completedDate="2026-02-31"),
                                               _work_order(9207, startDate="2026-02-10")]}, LATER)
        second = dbt.cli(["build"], raise_on_error=False).wait().get_artifact("run_results.json")
        statuses = [{r["unique_id"]: r["status"] for r in run["results"]} for run in (first, second)]
        yield engine, statuses[0], statuses[1]


def _rows(engine: Engine, sql: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql))]


def test_both_builds_succeed_and_only_the_bad_value_test_warns(
        warehouse: tuple[Engine, dict[str, str], dict[str, str]]) -> None:
    _, first, second = warehouse
    for statuses in (first, second):
        not_ok = {node: status for node, status in statuses.items() if status not in ("pass", "success")}
        assert not_ok == {"test.greenlight_warehouse.no_rows_bad_source_values_.e676ee17dc": "warn"}


def test_bad_dates_read_as_null_beside_the_good_values(
        warehouse: tuple[Engine, dict[str, str], dict[str, str]]) -> None:
    engine, _, _ = warehouse
    rows = {r["work_order_id"]: r for r in _rows(
        engine, "select work_order_id, start_date, scheduled_end_date, completed_date, status "
                "from staging.stg_pw_work_orders_latest")}
    for wo_id in set(BAD_START_DATES) - {9207}:
        assert rows[wo_id]["start_date"] is None, wo_id
        assert rows[wo_id]["scheduled_end_date"] == date(2026, 3, 1), wo_id
        assert rows[wo_id]["status"] == "Open"
    assert rows[9207]["start_date"] == date(2026, 2, 10)  # corrected in the second round
    assert rows[9100]["completed_date"] is None
    assert [rows[9210 + i]["start_date"] for i in range(len(GOOD_DATES))] == list(GOOD_DATES.values())
    job = _rows(engine, "select closed_at, created_at from staging.stg_sf_jobs where job_id = 8100")[0]
    assert job["closed_at"] is None and job["created_at"] == datetime(2026, 1, 4, 10, 0, tzinfo=UTC)
    assert _rows(engine, "select end_date from intermediate.int_pw_leases where lease_id = 400") == [{"end_date": None}]
    # the rest of the build flowed: every work order reached the marts and the push candidates
    current = {r["work_order_id"] for r in _rows(engine, "select work_order_id from marts.fact_work_orders "
                                                         "where is_current")}
    assert set(BAD_START_DATES) | {9100, 9101, 9102} <= current
    candidates = {r["work_order_id"]
                  for r in _rows(engine, f"select work_order_id from {CANDIDATES_SCHEMA}.sync_sf_job_creates")}
    assert set(BAD_START_DATES) <= candidates


def test_each_bad_value_is_reported_with_its_record_field_and_raw_text(
        warehouse: tuple[Engine, dict[str, str], dict[str, str]]) -> None:
    engine, _, _ = warehouse
    reported = {(r["source_system"], r["entity"], r["record_id"], r["field"], r["raw_value"]) for r in _rows(
        engine, "select * from marts.bad_source_values")}
    expected = {("pw", "work_orders", wo_id, "startDate", value) for wo_id, value in BAD_START_DATES.items()
                if wo_id != 9207}
    expected |= {("pw", "work_orders", 9100, "completedDate", "2026-02-31"),
                 ("pw", "leases", 400, "endDate", "2026-06-31"),
                 ("sf", "jobs", 8100, "closed_at", "2026-01-05T24:30:00Z")}
    assert reported == expected


@pytest.mark.parametrize("value", [*(v for k, v in BAD_START_DATES.items()), "2026-06-31", "2026-01-05T24:30:00Z"])
def test_python_reads_the_same_values_as_no_timestamp(value: str) -> None:
    """core.fields agrees with the warehouse: what SQL reports as no date, Python never pushes as one."""
    assert as_timestamp(value) is None


@pytest.mark.parametrize("value", list(GOOD_DATES))
def test_python_reads_the_good_values(value: str) -> None:
    parsed = as_timestamp(value)
    assert parsed is not None
