"""`greenlight dev` driven the way the UI drives it: through the webserver's GraphQL API.

The UI's Launchpad, *Materialize* and backfill dialogs are GraphQL mutations on the webserver
(``launchPipelineExecution``, ``launchPartitionBackfill``) and its run pages are queries; these
helpers send the same ones, so a test or benchmark exercises the real path - queued run
coordinator, daemon, run worker process - without a browser. Used by ``test_operator_path`` and
``benchmarks/ui_sync.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from greenlight_dagster.cli.local import CONNECTION_ENV, SANDBOX_ENV
from greenlight_dagster.warehouse.connection import DAGSTER_STORAGE_URL_ENV, WAREHOUSE_URL_ENV

LOCATION = "greenlight_sync"  # workspace.yaml
REPOSITORY = "__repository__"
UI_START_SECONDS = 600  # a cold start (initdb, a generated world, three definition loads) on a busy 2-core machine
TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
TERMINAL_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
  }
}
"""
RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status startTime endTime creationTime tags { key value }
                 stepStats { stepKey status startTime endTime } }
  }
}
"""
LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey }
  }
}
"""
BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status runs { runId status } }
    ... on PythonError { message }
  }
}
"""
STEP_FAILURES = """
query Failures($runId: ID!) {
  logsForRun(runId: $runId, limit: 5000) {
    __typename
    ... on EventConnection { events { __typename ... on ExecutionStepFailureEvent { stepKey error { message } } } }
  }
}
"""
LOCATION_LOADED = """
query Loaded { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename } } } } }
"""
ASSET_KEYS = """
query Keys($jobName: String!) {
  pipelineOrError(params: {repositoryLocationName: "greenlight_sync", repositoryName: "__repository__",
                           pipelineName: $jobName}) {
    __typename ... on Pipeline { solidHandles { solid { definition { assetNodes { assetKey { path } } } } } }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dev_environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """This environment without anything pointing at another warehouse, instance or PW/SF: the sandbox is used."""
    drop = {WAREHOUSE_URL_ENV, DAGSTER_STORAGE_URL_ENV, "DAGSTER_HOME", SANDBOX_ENV, *CONNECTION_ENV}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "GREENLIGHT_DATA_DIR": str(data_dir), **extra}


@dataclass
class RunOutcome:
    run_id: str
    status: str
    seconds: float  # from the launch request until the run's end, as the operator waits for it
    run: dict[str, Any]


class DagsterUi:
    """A webserver's GraphQL API, as the UI calls it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, document: str, **variables: Any) -> dict[str, Any]:
        response = requests.post(f"{self.url}/graphql", json={"query": document, "variables": variables}, timeout=60)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]  # type: ignore[no-any-return]

    def location_loaded(self) -> bool:
        entries = self.query(LOCATION_LOADED)["workspaceOrError"].get("locationEntries", [])
        return any(e["name"] == LOCATION and e["loadStatus"] == "LOADED"
                   and e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries)

    def launch_job(self, job: str, *, tags: Mapping[str, str] | None = None,
                   run_config: Mapping[str, Any] | None = None) -> str:
        """The Launchpad's *Launch run*: returns the run id (the run is queued, then started by the daemon)."""
        params = {"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job},
                  "runConfigData": dict(run_config or {}),
                  "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}}
        result = self.query(LAUNCH_RUN, params=params)["launchPipelineExecution"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launch of {job} refused: {result}")
        return str(result["run"]["runId"])

    def run(self, run_id: str) -> dict[str, Any]:
        return self.query(RUN, runId=run_id)["runOrError"]  # type: ignore[no-any-return]

    def run_statuses(self) -> list[str]:
        """The status of every run the instance holds (``SUCCESS``, ``FAILURE``, ``STARTED``, ...)."""
        data = self.query("query { runsOrError { ... on Runs { results { status } } } }")
        return [run["status"] for run in data["runsOrError"]["results"]]

    def step_failures(self, run_id: str) -> list[str]:
        """``step: error`` of each failed step of a run (what the run page shows in red)."""
        events = self.query(STEP_FAILURES, runId=run_id)["logsForRun"].get("events", [])
        return [f"{e['stepKey']}: {(e.get('error') or {}).get('message', '')[:2000]}" for e in events
                if e["__typename"] == "ExecutionStepFailureEvent"]

    def wait_for_run(self, run_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run.get("status") in TERMINAL_RUN:
                return run
            time.sleep(0.5)
        raise TimeoutError(f"run {run_id} did not finish within {timeout} s (last: {run.get('status')})")

    def run_job(self, job: str, *, timeout: float, tags: Mapping[str, str] | None = None) -> RunOutcome:
        """Launch ``job`` and wait for it: the wall time an operator waits, queueing and run worker start included."""
        began = time.monotonic()
        run_id = self.launch_job(job, tags=tags)
        run = self.wait_for_run(run_id, timeout)
        return RunOutcome(run_id, run["status"], time.monotonic() - began, run)

    def job_asset_keys(self, job: str) -> list[list[str]]:
        """The asset keys a job materializes (what the backfill dialog lists for it)."""
        handles = self.query(ASSET_KEYS, jobName=job)["pipelineOrError"]["solidHandles"]
        return sorted({tuple(node["assetKey"]["path"]) for handle in handles
                       for node in handle["solid"]["definition"]["assetNodes"]})  # type: ignore[misc]

    def launch_backfill(self, partitioned: Sequence[Sequence[str]], unpartitioned: Sequence[Sequence[str]],
                        first: str, last: str) -> str:
        """The asset backfill dialog: ``partitioned`` assets over ``first..last``, ``unpartitioned`` once."""
        by_asset = [{"assetKey": {"path": list(key)}, "partitions": {"range": {"start": first, "end": last}}}
                    for key in partitioned]
        by_asset += [{"assetKey": {"path": list(key)}, "partitions": None} for key in unpartitioned]
        result = self.query(LAUNCH_BACKFILL, params={"partitionsByAssets": by_asset})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill refused: {result}")
        return str(result["backfillId"])

    def wait_for_backfill(self, backfill_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        backfill: dict[str, Any] = {}
        while time.monotonic() < deadline:
            backfill = self.query(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
            if backfill.get("status") in TERMINAL_BACKFILL and all(r["status"] in TERMINAL_RUN
                                                                   for r in backfill.get("runs", [])):
                return backfill
            time.sleep(1)
        raise TimeoutError(f"backfill {backfill_id} did not finish within {timeout} s (last: {backfill})")


@contextmanager
def greenlight_dev(data_dir: Path, log_path: Path, *, scale: str = "small",
                   extra_env: Mapping[str, str] | None = None) -> Iterator[DagsterUi]:
    """`greenlight dev` (what `make dev` runs) on a free port with its own data dir, until the block ends.

    Yields once the webserver has loaded the code location; stopped as Ctrl-C stops it (SIGINT to
    its process group), killed only if that does not end it.
    """
    port = free_port()
    env = dev_environment(data_dir, **(extra_env or {}))
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "greenlight_dagster.cli", "dev", "--port", str(port),
                                 "--scale", scale], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        ui = DagsterUi(f"http://127.0.0.1:{port}")
        try:
            deadline = time.monotonic() + UI_START_SECONDS
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"greenlight dev did not serve the code location; see {log_path}")
                with contextlib.suppress(requests.RequestException, RuntimeError, KeyError):
                    if ui.location_loaded():
                        break
                time.sleep(1)
            yield ui
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def greenlight_command(data_dir: Path, *args: str, timeout: float = 900,
                       extra_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``greenlight ARGS`` as an operator types it in a second terminal next to `make dev` (no PW/SF settings)."""
    return subprocess.run([sys.executable, "-m", "greenlight_dagster.cli", *args], capture_output=True, text=True,
                          env=dev_environment(data_dir, COLUMNS="200", **(extra_env or {})), timeout=timeout,
                          check=False)
