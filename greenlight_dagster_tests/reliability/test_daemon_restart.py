"""The Dagster daemon SIGKILLed while the SF sensor holds a cursor: the restarted daemon resumes from it.

What a lost cursor would look like: the sensor's first tick after the restart sees no cursor,
re-initialises it at the newest change and requests nothing - the change made while the
daemon was down would never trigger a sync (and with an older cursor, old changes would be
requested again). So the scenario runs the real ``dagster-daemon`` against a PostgreSQL-backed
instance configured like the project's ``dagster.yaml``, lets the sensor store a cursor and
request a run for a first change, kills the daemon's whole process group with SIGKILL,
changes an SF job through the sandbox admin API while it is down, restarts it and checks:
exactly one run per change (distinct run keys, the downtime change picked up once), the
stored cursor at the newest change, and no tick after the restart re-initialising it.

Runs stay queued (``max_concurrent_runs: 0``): the scenario is about what the sensor requests,
and a sync per request would only load the two shared cores. The sensor is the shipped one,
served at a 2-second interval (`daemon_location`). The short version in ``make test`` is
``automation/test_automation.py::test_sf_sensor_requests_one_sync_per_job_change`` (the same
sensor evaluated with the cursor it stored).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import pytest
import requests
from sqlalchemy.engine import URL

from greenlight_dagster.defs.automation.sensors import sf_job_changes
from greenlight_dagster.instance.environ import environment_set
from greenlight_dagster.instance.home import project_root
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.warehouse.connection import DAGSTER_STORAGE_URL_ENV
from greenlight_dagster_tests.reliability.daemon_location import TICK_SECONDS_ENV
from greenlight_dagster_tests.reliability.harness import (
    SEED,
    instance_home,
    isolated_database,
    kill_group,
)
from greenlight_dagster_tests.reliability.report import ReliabilityReport, measured

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

T = TypeVar("T")
SENSOR = sf_job_changes.name
#: Each wait is bounded: a daemon start loads the code location (about 25 s on a busy 2-core machine).
WAIT_SECONDS = 120


@contextmanager
def daemon(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``dagster-daemon run`` on the scenario's location, in its own session; SIGKILLed as a group on exit."""
    cmd = [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m",
           "greenlight_dagster_tests.reliability.daemon_location"]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=project_root(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        kill_group(proc)


def wait_for(what: str, probe: Callable[[], T | None], proc: subprocess.Popen[bytes], log: Path) -> T:
    """Poll ``probe`` until it returns something; fail with the daemon's log if it dies or time runs out."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if (found := probe()) is not None:
            return found
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:]
    raise AssertionError(f"{what}: not seen within {WAIT_SECONDS} s (daemon exit {proc.poll()}); log tail:\n{tail}")


def sensor_state(instance: dg.DagsterInstance) -> Any:
    return next((s for s in instance.all_instigator_state() if s.instigator_name == SENSOR), None)


def stored_cursor(instance: dg.DagsterInstance) -> str | None:
    state = sensor_state(instance)
    return state.instigator_data.cursor if state is not None and state.instigator_data is not None else None


def requested_run_keys(instance: dg.DagsterInstance) -> list[str]:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": SENSOR}))
    return sorted(run.tags["dagster/run_key"] for run in runs)


def ticks_since(instance: dg.DagsterInstance, began: float) -> list[Any]:
    state = sensor_state(instance)
    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id) if state is not None else []
    return [t for t in ticks if t.timestamp >= began]


def at_least(n: int, found: list[T]) -> list[T] | None:
    return found if len(found) >= n else None


def change_a_job(admin_url: str, job_id: int, status: str) -> str:
    """What a technician does: move a job (through the admin API, as a user's script would). Returns its updated_at."""
    reply = requests.patch(f"{admin_url}/servicefusion/jobs/{job_id}", json={"status": status}, timeout=10)
    reply.raise_for_status()
    return str(reply.json()["updated_at"])


@pytest.mark.timeout(420)
def test_daemon_sigkill_keeps_the_sensor_cursor(warehouse_url: URL, tmp_path: Path,
                                                reliability_report: ReliabilityReport) -> None:
    home = instance_home(tmp_path / "dagster_home", max_concurrent_runs=0)
    log = tmp_path / "daemon.log"
    with isolated_database(warehouse_url) as storage, Sandbox(seed=SEED, scale="small") as sandbox, \
            measured(reliability_report, "daemon SIGKILL with a sensor cursor", load="small world, real dagster-daemon,"
                     " sf_job_changes ticking every 2 s", faults="SIGKILL of the daemon's process group after the "
                     "first requested run; an SF job changed while it is down") as row:
        storage_env = {DAGSTER_STORAGE_URL_ENV: storage.render_as_string(hide_password=False)}
        env = {**os.environ, **sandbox.env(), **storage_env, "DAGSTER_HOME": str(home), TICK_SECONDS_ENV: "2"}
        admin = sandbox.info["admin_url"].rstrip("/")
        jobs = [j["id"] for j in sandbox.state.snapshot()["servicefusion"]["jobs"][:2]]
        with environment_set(storage_env), dg.DagsterInstance.from_config(str(home)) as instance:
            with daemon(env, log) as first:
                initial = wait_for("the sensor's first cursor", lambda: stored_cursor(instance), first, log)
                before_kill = change_a_job(admin, jobs[0], "Completed")
                wait_for("a run for the first change", lambda: requested_run_keys(instance) or None, first, log)
                # The tick creates the run before it stores the cursor: kill once the cursor is stored too.
                wait_for("the cursor at the first change",
                         lambda: c if (c := stored_cursor(instance)) == _iso(before_kill) else None, first, log)
                kill_group(first)
            cursor_at_kill = stored_cursor(instance)
            during_downtime = change_a_job(admin, jobs[1], "On Hold")
            restarted_at = time.time()
            with daemon(env, log) as second:
                wait_for("a run for the downtime change", lambda: at_least(2, requested_run_keys(instance)),
                         second, log)
                # A few more ticks: a lost or stale cursor would request again (or re-initialise) here.
                settled = wait_for("three ticks after the restart",
                                   lambda: at_least(3, ticks_since(instance, restarted_at)), second, log)
            keys = requested_run_keys(instance)
            final = stored_cursor(instance)

        row.duplicates = len(keys) - len(set(keys))
        row.lost = sum(1 for change in (before_kill, during_downtime) if f"sf-jobs-{_iso(change)}" not in keys)
        reinitialised = [t for t in settled if "cursor initialised" in (t.skip_reason or "")]
        row.outcome = (f"cursor {initial} -> {cursor_at_kill} at the kill -> {final}; {len(keys)} run(s) requested "
                       f"for 2 changes, {len(settled)} tick(s) after the restart, {len(reinitialised)} re-initialised")
        assert keys == sorted({f"sf-jobs-{_iso(before_kill)}", f"sf-jobs-{_iso(during_downtime)}"}), keys
        assert cursor_at_kill == _iso(before_kill) and final == _iso(during_downtime)
        assert not reinitialised and (row.lost, row.duplicates) == (0, 0)


def _iso(wire_timestamp: str) -> str:
    """The sensor's cursor form of an SF ``updated_at`` (ISO-8601 with an explicit UTC offset)."""
    return datetime.fromisoformat(wire_timestamp.replace("Z", "+00:00")).isoformat()
