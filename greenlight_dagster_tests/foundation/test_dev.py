"""`greenlight dev` (what `make dev` runs) serves the UI, and Ctrl-C leaves no process behind, within seconds.

Stopped the way that used to leave the webserver, `dagster dev`, both code servers and the
embedded PostgreSQL running for minutes: right after a run launched through the UI's GraphQL
API finished, with a browser-like connection still open on the webserver.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from greenlight_dagster.cli.dev import GRACE_SECONDS
from greenlight_dagster.warehouse.connection import DAGSTER_STORAGE_URL_ENV, WAREHOUSE_URL_ENV
from greenlight_dagster_tests.processes import free_port, processes_mentioning

LAUNCH = """
mutation($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }
"""
STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def _graphql(base: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(f"{base}/graphql", json={"query": query, "variables": variables}, timeout=30)
    response.raise_for_status()
    data: dict[str, Any] = response.json()["data"]
    return data


def _materialize_from_the_ui(base: str, asset: list[str]) -> str:
    """What the asset page's Materialize button sends; returns the run's status once it ended (or after 5 min)."""
    params = {"selector": {"repositoryLocationName": "greenlight_sync", "repositoryName": "__repository__",
                           "pipelineName": "__ASSET_JOB", "assetSelection": [{"path": asset}]},
              "mode": "default", "executionMetadata": {"tags": []}}
    launched = _graphql(base, LAUNCH, {"params": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 300
    status = "QUEUED"
    while time.monotonic() < deadline and status not in ("SUCCESS", "FAILURE", "CANCELED"):
        time.sleep(2)
        status = _graphql(base, STATUS, {"id": run_id})["runOrError"]["status"]
    return status


@pytest.mark.slow
def test_ctrl_c_after_a_ui_launched_run_stops_everything_within_seconds(server_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = server_dir / "d"
    env = {k: v for k, v in os.environ.items() if k not in (WAREHOUSE_URL_ENV, DAGSTER_STORAGE_URL_ENV, "DAGSTER_HOME")}
    env["GREENLIGHT_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen([sys.executable, "-m", "greenlight_dagster.cli", "dev", "--port", str(port),
                             "--scale", "small"], env=env, stdout=(tmp_path / "dev.log").open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    browser = requests.Session()
    try:
        deadline = time.monotonic() + 300
        info = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                info = browser.get(f"{base}/server_info", timeout=2).json()
                break
            except requests.RequestException:
                time.sleep(1)
        assert info is not None and "dagster_webserver_version" in info, \
            f"the UI never answered: {(tmp_path / 'dev.log').read_text(errors='replace')[-3000:]}"
        assert processes_mentioning(str(data_dir)), "the embedded warehouse should be running"
        # Normally it succeeds in seconds; on a starved machine the stop is tested mid-run instead.
        assert _materialize_from_the_ui(base, ["sf", "job_statuses"]) in ("SUCCESS", "STARTED")
        browser.get(f"{base}/runs", timeout=30)  # a page visit; the session keeps its connection open
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        started = time.monotonic()
        assert proc.wait(timeout=GRACE_SECONDS + 30) == 0
        elapsed = time.monotonic() - started
    finally:
        browser.close()
        if proc.poll() is None:  # the test failed: leave nothing behind for the next one
            os.killpg(proc.pid, signal.SIGKILL)
            for leftover in processes_mentioning(str(port), str(data_dir)):
                leftover.kill()
    assert elapsed < GRACE_SECONDS + 15, f"Ctrl-C took {elapsed:.0f} s"
    time.sleep(1)
    leftovers = processes_mentioning(str(port), str(data_dir))
    assert not leftovers, [p.cmdline() for p in leftovers]
    log = (tmp_path / "dev.log").read_text(errors="replace")
    # Issue 20 item 5: started the way this Dagster recommends, from the home that holds its instance file
    assert "superseded" not in log and "will not be used" not in log and "BetaWarning" not in log
