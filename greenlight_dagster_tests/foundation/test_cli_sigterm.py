"""SIGTERM (a supervisor, `timeout`, a closed terminal) stops `greenlight demo` as cleanly as Ctrl-C.

Without it the sandbox world is not saved, so the next sync meets a ledger that disagrees with
the sandbox, and the embedded PostgreSQL keeps running with nobody to stop it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from greenlight_dagster.warehouse.connection import DAGSTER_STORAGE_URL_ENV, WAREHOUSE_URL_ENV


def _postgres_serving(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(data_dir) in part for part in proc.info["cmdline"] or []) and proc.is_running():
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_sigterm_saves_the_sandbox_and_stops_the_warehouse(server_dir: Path) -> None:
    data_dir = server_dir / "d"
    env = {k: v for k, v in os.environ.items() if k not in (WAREHOUSE_URL_ENV, DAGSTER_STORAGE_URL_ENV, "DAGSTER_HOME")}
    env["GREENLIGHT_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen([sys.executable, "-m", "greenlight_dagster.cli", "demo", "--scale", "small"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, "demo ended before its sandbox started"
            if line.startswith("sandbox:"):
                break
        time.sleep(2)  # inside the run now
        assert _postgres_serving(data_dir), "the embedded warehouse should be running"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=90)
        assert proc.returncode != 0, "an interrupted demo must not report success"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert (data_dir / "sandbox" / "state.json").is_file(), "the sandbox world was not saved"
    time.sleep(1)
    leftovers = _postgres_serving(data_dir)
    assert not leftovers, [p.cmdline() for p in leftovers]
