"""`greenlight status`: runs, ledger, dead letters, flags and freshness from the warehouse alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.plan import PlannedWrite
from greenlight_dagster.warehouse.flag_store import set_override
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster.warehouse.run_records import finish_run, record_run
from greenlight_dagster.warehouse.tables import error_log
from greenlight_dagster.warehouse.watermarks import set_high_water
from greenlight_dagster_tests.operator.conftest import T0, Greenlight, dead_letter


def test_status_on_an_empty_warehouse_says_so(greenlight: Greenlight, clean_ops: Engine) -> None:
    result = greenlight("status")
    assert result.exit_code == 0, result.output
    assert "no sync runs recorded yet" in result.output and "the ledger is empty" in result.output
    assert "dead letters: 0" in result.output


def test_status_reports_runs_ledger_dead_letters_flags_and_freshness(greenlight: Greenlight,
                                                                     clean_ops: Engine) -> None:
    store = LedgerStore(clean_ops)
    store.record_plan([PlannedWrite.of("pw", "close_work_order", 9005, {"status": "Completed"})], now=T0,
                      withdraw_unplanned=False)
    dead_letter(store, 9000, "422: street_1 is required")
    record_run(clean_ops, "run-aaaa1111", kind="sync", flags=SyncFlags(dry_run=False),
               stats={"push_plan": {"held_back": 4}, "sf_jobs": {"sent": 2, "created": 2, "dead_letters": 1},
                      "pw_work_orders": {"sent": 1}})
    with clean_ops.begin() as conn:
        conn.execute(insert(error_log).values(run_id="run-aaaa1111", source="pw", reason="bad record"))
    set_override(clean_ops, "safe_mode", "false", updated_by="maria")
    set_high_water(clean_ops, "pw", "work_orders", datetime(2026, 1, 5, 11, tzinfo=UTC), "run-aaaa1111")

    result = greenlight("status", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    (run,) = status["runs"]
    assert run | {"started_at": None} == {
        "run_id": "run-aaaa1111", "kind": "sync", "status": "started", "started_at": None, "dry_run": False,
        "held_back": 4, "sent": 3, "created": 2, "failed": 0, "dead_letters": 1, "errors": 1}
    assert status["ledger"] == {"pw.close_work_order": {"planned": 1}, "sf.create_job": {"dead": 1}}
    assert status["dead_letters"] == 1
    assert status["flags"]["safe_mode"] == {"value": False, "origin": "ops.flags"}
    marks = {(row["source"], row["entity"]): row["high_water"] for row in status["freshness"]}
    assert marks[("pw", "work_orders")].startswith("2026-01-05T11:00") and marks[("sf", "jobs")] is None

    table = greenlight("status")
    assert table.exit_code == 0
    for text in ("run-aaaa", "pw.close_work_order", "dead letters: 1", "greenlight dead-letters list",
                 "ops.flags, set by maria", "work_orders"):
        assert text in table.output, text


def test_status_lists_backfill_runs_as_backfills(greenlight: Greenlight, clean_ops: Engine) -> None:
    """A backfill run plans nothing, so only its outcome is recorded: listed, as a backfill, sending nothing."""
    finish_run(clean_ops, "run-bbbb2222", status="failed", kind="backfill")
    finish_run(clean_ops, "run-cccc3333", status="succeeded", kind="backfill",
               started_at=datetime(2026, 1, 5, 12, tzinfo=UTC))
    status = json.loads(greenlight("status", "--json").output)
    assert [(run["run_id"], run["kind"], run["status"], run["dry_run"]) for run in status["runs"]] == [
        ("run-bbbb2222", "backfill", "failed", None), ("run-cccc3333", "backfill", "succeeded", None)]
    table = greenlight("status").output
    rows = [line for line in table.splitlines() if "run-bbbb" in line or "run-cccc" in line]
    assert len(rows) == 2 and all("backfill" in row and "no push" in row and "None" not in row for row in rows), rows
    assert "failed" in rows[0] and "succeeded" in rows[1]


def test_status_with_an_unknown_flag_in_ops_flags_says_how_to_fix_it(greenlight: Greenlight,
                                                                     clean_ops: Engine) -> None:
    with clean_ops.begin() as conn:
        conn.exec_driver_sql("insert into ops.flags (name, value) values ('dryrun', 'false')")
    result = greenlight("status")
    assert result.exit_code == 1
    assert "unknown flag name(s) ['dryrun']" in result.output and "greenlight flags unset" in result.output
