"""The operator's path through the UI (issue 20): what `make dev` serves, driven through its GraphQL API.

One `greenlight dev` on the tests' small sandbox world (`ui/conftest.py`, shared with the browser test)
serves the module, in order:

* a ``sync`` launched as the Launchpad launches it runs its steps one after the other in its run
  worker (no step subprocesses: the UI run costs what the CLI's does) and succeeds;
* in a second terminal, the README's ``greenlight preview`` and ``greenlight backfill`` work with
  no ``GREENLIGHT_SANDBOX`` and no PW/SF settings: they use the sandbox `make dev` serves;
* a date-range asset backfill from the backfill dialog: its runs never build dbt at the same time,
  it succeeds, and ``greenlight status`` lists each of its runs as a backfill that sends nothing;
* a backfill whose run fails (PropertyWare answering 500) shows as a failed backfill, and its run
  as a failed backfill run.

The two backfills through the daemon take about three minutes, so they run in ``make reliability``;
``make test`` keeps what guards them cheaply: the pools in the asset-graph snapshot and their limit
(`foundation/test_definitions.py`), and a CLI backfill recorded as a backfill (above).
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from greenlight_dagster.lib.ingest import latest_partition_key
from greenlight_dagster_tests.ui.dagster_ui import DagsterUi, greenlight_command

#: Each test drives real runs through the daemon (a sync, a backfill of three runs) on a shared 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

RUN_SECONDS = 900
#: The run-status sensors tick every 10 s (`RUN_RECORD_INTERVAL_SECONDS`); a busy daemon can take a few ticks.
RECORD_SECONDS = 120
DBT_STEP = "dbt_warehouse"
PARTITIONED = (("pw", "work_orders"), ("sf", "jobs"))


def _intervals(run: dict[str, Any], step_prefix: str = "") -> list[tuple[float, float]]:
    return sorted((s["startTime"], s["endTime"]) for s in run["stepStats"]
                  if s["stepKey"].startswith(step_prefix) and s["startTime"] and s["endTime"])


def _overlaps(intervals: list[tuple[float, float]]) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    ordered = sorted(intervals)
    return [(a, b) for a, b in itertools.pairwise(ordered) if b[0] < a[1]]


def _recorded_runs(data_dir: Path, run_ids: set[str]) -> dict[str, dict[str, Any]]:
    """``greenlight status --json`` rows of ``run_ids``, waiting for the run-status sensors to record them all."""
    deadline = time.monotonic() + RECORD_SECONDS
    while True:
        result = greenlight_command(data_dir, "status", "--json", "--runs", "100")
        assert result.returncode == 0, result.stderr
        rows = {row["run_id"]: row for row in json.loads(result.stdout)["runs"] if row["run_id"] in run_ids}
        if (set(rows) == run_ids and all(r["status"] != "started" for r in rows.values())) \
                or time.monotonic() > deadline:
            return rows
        time.sleep(5)


def test_a_ui_sync_runs_its_steps_in_one_process_one_after_the_other(dev: tuple[DagsterUi, Path]) -> None:
    ui, _ = dev
    outcome = ui.run_job("sync", timeout=RUN_SECONDS, tags={"dagster/partition": latest_partition_key()})
    assert outcome.status == "SUCCESS", outcome.run
    steps = _intervals(outcome.run)
    assert len(steps) >= 20, outcome.run["stepStats"]
    assert not _overlaps(steps), "in-process steps run one at a time"


def test_readme_commands_use_the_sandbox_make_dev_serves(dev: tuple[DagsterUi, Path]) -> None:
    _, data_dir = dev
    owner = json.loads((data_dir / "sandbox" / "running.json").read_text())
    assert (data_dir / "sandbox" / "running.json").stat().st_mode & 0o077 == 0, "it holds the sandbox credentials"
    preview = greenlight_command(data_dir, "preview", "--limit", "5")
    assert preview.returncode == 0, preview.stderr
    assert f"using the one process {owner['pid']} serves" in preview.stderr
    assert "next push:" in preview.stdout
    day = (date.fromisoformat(latest_partition_key()) - timedelta(days=3)).isoformat()
    backfill = greenlight_command(data_dir, "backfill", "--from", day, "--to", day)
    assert backfill.returncode == 0, backfill.stderr + backfill.stdout
    assert f"backfilled {day}..{day} in 1 run(s)" in backfill.stdout
    status = json.loads(greenlight_command(data_dir, "status", "--json").stdout)
    assert status["runs"][0]["kind"] == "backfill" and status["runs"][0]["status"] == "succeeded"


@pytest.mark.reliability
def test_a_ui_date_range_backfill_never_builds_dbt_twice_at_once(dev: tuple[DagsterUi, Path]) -> None:
    ui, data_dir = dev
    today = date.fromisoformat(latest_partition_key())
    first, last = (today - timedelta(days=9)).isoformat(), (today - timedelta(days=3)).isoformat()
    warehouse = [key for key in ui.job_asset_keys("backfill") if key[0] == "warehouse"]
    backfill_id = ui.launch_backfill(PARTITIONED, warehouse, first, last)
    backfill = ui.wait_for_backfill(backfill_id, RUN_SECONDS)
    assert backfill["status"] == "COMPLETED_SUCCESS", [ui.step_failures(r["runId"]) for r in backfill["runs"]]
    runs = [ui.run(r["runId"]) for r in backfill["runs"]]
    assert runs and all(run["status"] == "SUCCESS" for run in runs), backfill
    dbt_builds = [interval for run in runs for interval in _intervals(run, DBT_STEP)]
    assert dbt_builds, "the backfill rebuilds the warehouse"
    assert not _overlaps(dbt_builds), f"dbt builds overlapped: {dbt_builds}"

    recorded = _recorded_runs(data_dir, {run["runId"] for run in runs})
    assert set(recorded) == {run["runId"] for run in runs}, "status lists every run of the backfill"
    assert {(row["kind"], row["status"], row["dry_run"]) for row in recorded.values()} == {
        ("backfill", "succeeded", None)}


@pytest.mark.reliability
def test_a_failed_backfill_run_shows_as_a_failed_backfill(dev: tuple[DagsterUi, Path]) -> None:
    ui, data_dir = dev
    admin = json.loads((data_dir / "sandbox" / "running.json").read_text())["admin_url"]
    requests.post(f"{admin}/faults", json={"server": "pw", "operation": "*", "kind": "error"},
                  timeout=10).raise_for_status()
    try:
        day = (date.fromisoformat(latest_partition_key()) - timedelta(days=20)).isoformat()
        backfill = ui.wait_for_backfill(ui.launch_backfill(PARTITIONED[:1], [], day, day), RUN_SECONDS)
    finally:
        requests.delete(f"{admin}/faults", timeout=10).raise_for_status()
    assert backfill["status"] in ("COMPLETED_FAILED", "FAILED"), backfill
    (run,) = backfill["runs"]
    assert run["status"] == "FAILURE"
    recorded = _recorded_runs(data_dir, {run["runId"]})
    assert recorded[run["runId"]]["kind"] == "backfill" and recorded[run["runId"]]["status"] == "failed"
