"""`greenlight dev` (what `make dev` runs) serves the UI and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from greenlight_dagster.warehouse.connection import DAGSTER_STORAGE_URL_ENV, WAREHOUSE_URL_ENV


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _processes_mentioning(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_dev_serves_the_ui_and_ctrl_c_stops_everything(server_dir: Path) -> None:
    port = _free_port()
    data_dir = server_dir / "d"
    env = {k: v for k, v in os.environ.items() if k not in (WAREHOUSE_URL_ENV, DAGSTER_STORAGE_URL_ENV, "DAGSTER_HOME")}
    env["GREENLIGHT_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen([sys.executable, "-m", "greenlight_dagster.cli", "dev", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        info = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                info = requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).json()
                break
            except requests.RequestException:
                time.sleep(1)
        assert info is not None and "dagster_webserver_version" in info, "the UI never answered"
        assert _processes_mentioning(str(data_dir)), "the embedded warehouse should be running"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    time.sleep(1)
    leftovers = [p for p in _processes_mentioning(str(port)) + _processes_mentioning(str(data_dir)) if p.is_running()]
    assert not leftovers, [p.cmdline() for p in leftovers]
