"""The raw ingestion assets end to end: Dagster runs against the small sandbox, rows in the session warehouse.

Each test starts from the sandbox's starting world and empty raw tables (the `ingest`
fixture) and asserts on what a user of the warehouse would see: rows, versions, the
watermark, ``ops.error_log``, the check result, and the requests the sandbox received.
"""

from __future__ import annotations

import copy
import math
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import text

from greenlight_dagster.clients.pw_entities import pw_entity
from greenlight_dagster.clients.pw_legacy import from_legacy
from greenlight_dagster.defs.propertyware import resources as propertyware
from greenlight_dagster.defs.servicefusion import resources as servicefusion
from greenlight_dagster.sandbox.pw_server import PWService
from greenlight_dagster.warehouse.loader import payload_hash
from greenlight_dagster_tests.ingestion.fixtures_sandbox import (  # noqa: F401 - fixtures are used by name
    ENTITY_KEYS,
    Ingest,
    ingest_fixture,
    metadata,
    modified,
    sandbox_records,
)

pytestmark = pytest.mark.integration

WORK_ORDERS = ("pw", "work_orders")
SF_JOBS = ("sf", "jobs")
SF_CUSTOMERS = ("sf", "customers")
PW_PAGE_SIZE = 100  # PropertyWareResource.page_size


def _modified_field(source: str) -> str:
    return "lastModifiedDateTime" if source == "pw" else "updated_at"


def test_every_raw_asset_lands_exactly_the_sandbox_records(ingest: Ingest) -> None:
    result = ingest.run()
    legacy_service = PWService(ingest.sandbox.state, 100)

    assert result.success
    for source, entity in ENTITY_KEYS:
        expected = sandbox_records(ingest.sandbox, source, entity)
        rows = ingest.rows(source, entity)
        assert sorted(r.source_id for r in rows) == sorted(expected), (source, entity)
        for row in rows:
            record = expected[row.source_id]
            assert row.payload["id"] == row.source_id
            assert row.source_hash == payload_hash(row.payload)
            assert row.run_id == result.run_id and not row.is_deleted
            if entity == "job_statuses" or source == "pw":  # reference data; PW's legacy structs have no time
                assert row.source_modified_at is None
            else:
                assert row.source_modified_at == modified(record, _modified_field(source))
            if source == "pw":  # PW records land as the legacy struct carries them, in REST names
                struct = pw_entity(entity).soap_struct
                assert row.payload == from_legacy(struct, legacy_service.legacy(struct, record))
        meta = metadata(result, source, entity)
        assert meta["records_fetched"] == meta["new_versions"] == len(expected)
        assert meta["rejected"] == 0 and meta["api_calls"] >= 1


def test_a_second_run_without_changes_appends_nothing(ingest: Ingest) -> None:
    ingest.run()
    before = {key: ingest.rows(*key) for key in ENTITY_KEYS}

    again = ingest.run()

    assert {key: ingest.rows(*key) for key in ENTITY_KEYS} == before
    assert all(metadata(again, *key)["new_versions"] == 0 for key in ENTITY_KEYS)
    assert all(metadata(again, *key)["tombstones"] == 0 for key in ENTITY_KEYS)


def test_a_changed_pw_record_lands_exactly_one_new_version_and_advances_the_watermark(ingest: Ingest) -> None:
    ingest.run()
    work_order_id = min(sandbox_records(ingest.sandbox, *WORK_ORDERS))
    unit_id = min(sandbox_records(ingest.sandbox, "pw", "units"))
    mark_before = ingest.watermark(*WORK_ORDERS)
    counts_before = ingest.table_counts()

    changed = ingest.sandbox.state.patch("propertyware", "workOrders", work_order_id, {"description": "Leak fixed?"})
    ingest.sandbox.state.patch("propertyware", "units", unit_id, {"name": "2BR changed"})  # a field Unit carries
    result = ingest.run()

    new_rows = [r for r in ingest.rows(*WORK_ORDERS) if r.run_id == result.run_id]
    assert [(r.source_id, r.payload["description"]) for r in new_rows] == [(work_order_id, "Leak fixed?")]
    assert [r.source_id for r in ingest.rows("pw", "units") if r.run_id == result.run_id] == [unit_id]
    assert ingest.table_counts() == {k: n + (k in (WORK_ORDERS, ("pw", "units"))) for k, n in counts_before.items()}
    changed_at = modified(changed, "lastModifiedDateTime")
    assert mark_before is not None and mark_before <= changed_at  # the overlap re-reads a change at the mark
    # The legacy structs carry no time: the mark is the end of the window read, the service's clock.
    assert ingest.watermark(*WORK_ORDERS) == ingest.sandbox.state.now() >= changed_at
    meta = metadata(result, *WORK_ORDERS)
    assert meta["mode"] == "incremental" and meta["new_versions"] == 1
    assert meta["records_fetched"] < len(sandbox_records(ingest.sandbox, *WORK_ORDERS))  # only the overlap window


def _window_days(ingest: Ingest) -> tuple[str, str]:
    """A week that holds the newest SF job and some (not all) work orders: a real subset for both assets."""
    newest_job = max(modified(r, "updated_at") for r in sandbox_records(ingest.sandbox, *SF_JOBS).values())
    last = newest_job.date()
    return (last - timedelta(days=6)).isoformat(), last.isoformat()


def _in_window(ingest: Ingest, source: str, entity: str, first: str, last: str) -> set[int]:
    start = datetime.fromisoformat(first).replace(tzinfo=UTC)
    end = datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(days=1)
    return {i for i, r in sandbox_records(ingest.sandbox, source, entity).items()
            if start <= modified(r, _modified_field(source)) < end}


def test_a_backfill_range_reads_exactly_its_window_and_rerunning_it_changes_nothing(ingest: Ingest) -> None:
    first, last = _window_days(ingest)
    wanted = {key: _in_window(ingest, *key, first, last) for key in (WORK_ORDERS, SF_JOBS)}
    assert all(0 < len(ids) < len(sandbox_records(ingest.sandbox, *key)) for key, ids in wanted.items())

    result = ingest.run([WORK_ORDERS, SF_JOBS], partition_range=(first, last))

    for key, ids in wanted.items():
        assert {r.source_id for r in ingest.rows(*key)} == ids
        assert len(ingest.rows(*key)) == len(ids)
        meta = metadata(result, *key)
        assert meta["mode"] == "backfill" and meta["records_fetched"] == len(ids)
        assert meta["window_start"] == f"{first}T00:00:00+00:00"
        assert ingest.watermark(*key) is None  # a backfill speaks for the past, not for the present
    # The window is applied by the APIs, not by reading everything: one PW page, SF filtered on updated_date.
    assert len(ingest.requests("pw", "getWorkOrders")) == math.ceil(len(wanted[WORK_ORDERS]) / PW_PAGE_SIZE)
    (jobs_request,) = ingest.requests("sf", "/jobs")
    assert f"filters[updated_date][gte]={first}T00:00:00+00:00" in jobs_request["path"]
    assert "filters[updated_date][lte]=" in jobs_request["path"]

    rows = {key: ingest.rows(*key) for key in wanted}
    again = ingest.run([WORK_ORDERS, SF_JOBS], partition_range=(first, last))

    assert {key: ingest.rows(*key) for key in wanted} == rows
    assert all(metadata(again, *key)["new_versions"] == 0 for key in wanted)


def test_incremental_sf_jobs_filter_on_updated_date_and_every_jobs_read_is_sorted(ingest: Ingest) -> None:
    ingest.run([SF_JOBS])
    mark = ingest.watermark(*SF_JOBS)
    assert mark is not None
    ingest.sandbox.state.set_clock(advance_seconds=3600)
    changed = ingest.sandbox.state.patch("servicefusion", "jobs", min(sandbox_records(ingest.sandbox, *SF_JOBS)),
                                         {"description": "rescheduled"})

    result = ingest.run([SF_JOBS])
    first, last = _window_days(ingest)
    ingest.run([SF_JOBS], partition_range=(first, last))

    initial, incremental, backfill = (r["path"] for r in ingest.requests("sf", "/jobs"))
    assert "filters[updated_date]" not in initial
    overlap_start = (mark - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert f"filters[updated_date][gte]={overlap_start}" in incremental
    assert "filters[updated_date][gte]" in backfill
    assert metadata(result, *SF_JOBS)["new_versions"] == 1
    assert ingest.watermark(*SF_JOBS) == modified(changed, "updated_at")
    list_reads = ingest.requests("sf", "/jobs")
    assert list_reads and all(re.search(r"[?&]sort=[^&]+", r["path"]) for r in list_reads), list_reads


def test_a_quiet_entity_reads_from_its_mark_once_a_later_read_has_settled_it(ingest: Ingest) -> None:
    """Late commits land within the overlap, so a read an overlap after the mark moved has seen all of them;
    from then on nothing changed means one page from the mark, not the overlap's records again and again."""
    overlap_minutes = 0.1  # 6 s: the test waits it out instead of five minutes
    ingest.run([SF_CUSTOMERS])
    mark = ingest.watermark(*SF_CUSTOMERS)
    assert mark is not None

    first = ingest.run([SF_CUSTOMERS], overlap_minutes=overlap_minutes)  # the same second: too soon to settle
    time.sleep(overlap_minutes * 60 + 0.5)
    settling = ingest.run([SF_CUSTOMERS], overlap_minutes=overlap_minutes)
    settled = ingest.run([SF_CUSTOMERS], overlap_minutes=overlap_minutes)
    assert [metadata(r, *SF_CUSTOMERS)["high_water_settled"] for r in (first, settling, settled)] == [
        False, True, True]
    looked_back = (mark - timedelta(minutes=overlap_minutes)).isoformat()
    assert [metadata(r, *SF_CUSTOMERS)["window_start"] for r in (first, settling, settled)] == [
        looked_back, looked_back, mark.isoformat()]
    assert ingest.watermark(*SF_CUSTOMERS) == mark

    ingest.sandbox.state.set_clock(advance_seconds=3600)
    first_customer = min(sandbox_records(ingest.sandbox, *SF_CUSTOMERS))
    changed = ingest.sandbox.state.patch("servicefusion", "customers", first_customer, {"account_number": "A-NEW"})
    moved = ingest.run([SF_CUSTOMERS], overlap_minutes=overlap_minutes)
    assert metadata(moved, *SF_CUSTOMERS)["new_versions"] == 1
    assert not metadata(moved, *SF_CUSTOMERS)["high_water_settled"]
    assert ingest.watermark(*SF_CUSTOMERS) == modified(changed, "updated_at")


def test_full_refresh_tombstones_a_record_deleted_in_the_source(ingest: Ingest) -> None:
    ingest.run()
    unit_id = max(sandbox_records(ingest.sandbox, "pw", "units"))
    ingest.sandbox.state.delete("propertyware", "units", unit_id)

    incremental = ingest.run([("pw", "units")])
    assert metadata(incremental, "pw", "units")["tombstones"] == 0  # only a full read can see an absence
    result = ingest.run([("pw", "units")], full_refresh=True)

    tombstones = [r for r in ingest.rows("pw", "units") if r.is_deleted]
    assert [(r.source_id, r.run_id) for r in tombstones] == [(unit_id, result.run_id)]
    assert tombstones[0].payload["id"] == unit_id  # the last payload is kept, so history shows what vanished
    assert metadata(result, "pw", "units")["tombstones"] == 1
    again = ingest.run([("pw", "units")], full_refresh=True)
    assert metadata(again, "pw", "units")["tombstones"] == 0


def test_a_criteria_less_soap_read_is_full_and_tombstones_at_once(ingest: Ingest) -> None:
    """getVendors() takes no criteria: every run reads all vendors, so an absence shows immediately."""
    ingest.run()
    vendor_id = max(sandbox_records(ingest.sandbox, "pw", "vendors"))
    ingest.sandbox.state.delete("propertyware", "vendors", vendor_id)
    result = ingest.run([("pw", "vendors")])
    assert metadata(result, "pw", "vendors")["mode"] == "full"
    assert [r.source_id for r in ingest.rows("pw", "vendors") if r.is_deleted] == [vendor_id]


def test_a_malformed_record_goes_to_the_error_log_and_the_rest_of_its_page_lands(ingest: Ingest) -> None:
    """Over the legacy service a value its struct cannot carry is not sent (an id that is no long: the
    record arrives without ``ID``); a time that is no time never travels (the structs have none).
    Values of the wrong type inside an answer are proven with a stub server (test_pw_legacy_soap)."""
    work_orders = ingest.sandbox.state.pw["workOrders"]  # straight into the state: the API would refuse these
    template = copy.deepcopy(work_orders[max(work_orders)])
    bad_id_key, bad_time_id = max(work_orders) + 1, max(work_orders) + 2
    work_orders[bad_id_key] = {**template, "id": "WO-12x"}
    work_orders[bad_time_id] = {**template, "id": bad_time_id, "lastModifiedDateTime": "last tuesday"}
    good = sandbox_records(ingest.sandbox, *WORK_ORDERS).keys() - {"WO-12x"}
    assert len(good) % PW_PAGE_SIZE > 0  # the bad record shares the last page with good ones

    result = ingest.run([WORK_ORDERS], checks=True)

    assert result.success
    assert {r.source_id for r in ingest.rows(*WORK_ORDERS)} == good
    with ingest.engine.connect() as conn:
        logged = conn.execute(text(
            "select source, entity, source_key, reason, payload, severity from ops.error_log where run_id = :run"
            " order by source_key"), {"run": result.run_id}).mappings().all()
    assert [(e["source"], e["entity"], e["source_key"], e["severity"]) for e in logged] == [
        ("pw", "work_orders", None, "error")]
    assert "work_orders record without an ID" in logged[0]["reason"]
    assert template["description"] in logged[0]["payload"]  # the record's XML, kept for the operator
    assert metadata(result, *WORK_ORDERS)["rejected"] == 1
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "rejected_records" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN and check.metadata["rejected"].value == 1


def _quick_retries() -> dict[str, Any]:
    """The shipped resources with a short backoff base: the fault test is about outcomes, not waiting."""
    return {"propertyware": propertyware.default_resource().model_copy(update={"backoff_base_seconds": 0.02}),
            "servicefusion": servicefusion.default_resource().model_copy(update={"backoff_base_seconds": 0.02})}


def test_injected_resets_and_errors_still_land_every_record_exactly_once(ingest: Ingest) -> None:
    for seed, (server, kind) in enumerate([(s, k) for s in ("pw", "sf") for k in ("reset", "error")]):
        ingest.sandbox.state.faults.add({"server": server, "operation": "*", "kind": kind, "rate": 0.3,
                                         "seed": seed})

    result = ingest.run(resources=_quick_retries())

    assert result.success
    fired = ingest.sandbox.state.faults.fired
    assert fired.get("reset", 0) > 0 and fired.get("error", 0) > 0
    assert sum(metadata(result, *key)["retries"] for key in ENTITY_KEYS) > 0
    for key in ENTITY_KEYS:
        ids = [r.source_id for r in ingest.rows(*key)]
        assert sorted(ids) == sorted(sandbox_records(ingest.sandbox, *key)), key  # each exactly once
    # What landed is what a fault-free read serves: a full re-read without faults finds nothing new or missing.
    ingest.sandbox.state.faults.clear()
    clean = ingest.run(full_refresh=True)
    assert all(metadata(clean, *key)["new_versions"] == 0 == metadata(clean, *key)["tombstones"]
               for key in ENTITY_KEYS)
