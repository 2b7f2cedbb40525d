"""Dagster's own commands work in the project folder with none of our variables set (issue 17.2).

As a Dagster user types them in a fresh clone: `dagster definitions validate`, `dagster dev`,
and the `dg` CLI (`dg check defs`, `dg list defs`, `dg dev`, found through `[tool.dg]`). The
instance comes from the project's dagster.yaml (no ``DAGSTER_HOME``: Dagster uses a temporary
home configured from the current folder) and its storage starts the embedded warehouse.
Only ``GREENLIGHT_DATA_DIR`` is set, so the embedded server lives in this test's directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from greenlight_dagster.instance.home import project_root
from greenlight_dagster.warehouse.embedded import EmbeddedWarehouse
from greenlight_dagster_tests.processes import free_port, processes_mentioning

BIN = Path(sys.executable).parent
LOCATION = "greenlight_sync"


@pytest.fixture
def clean_env(server_dir: Path) -> Iterator[dict[str, str]]:
    """The environment of a fresh shell: no GREENLIGHT_* or DAGSTER_HOME (the embedded server is stopped after)."""
    data_dir = server_dir / "d"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENLIGHT_", "DAGSTER_"))}
    env["GREENLIGHT_DATA_DIR"] = str(data_dir)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    yield env
    EmbeddedWarehouse(data_dir).stop()


@pytest.mark.parametrize("command", [
    ["dagster", "definitions", "validate", "-w", "workspace.yaml"],
    ["dg", "check", "defs"],
    ["dg", "list", "defs", "--json"],
], ids=lambda c: " ".join(c[:3]))
def test_a_dagster_command_loads_the_code_location(command: list[str], clean_env: dict[str, str]) -> None:
    out = subprocess.run(command, cwd=project_root(), env=clean_env, capture_output=True, text=True, timeout=420)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    if command[:2] == ["dg", "list"]:
        listed = json.loads(out.stdout)
        assert "pw/work_orders" in {asset["asset_key"] for asset in listed["assets"]}
    else:
        assert "Traceback" not in out.stderr


def _location_loaded(port: int) -> bool:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus " \
            "locationOrLoadError { __typename } } } } }"
    try:
        entries = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query},
                                timeout=5).json()["data"]["workspaceOrError"]["locationEntries"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
    return any(e["name"] == LOCATION and e["loadStatus"] == "LOADED"
               and e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries)


#: How long `dagster dev` may take to stop after Ctrl-C: it waits up to 60 s for the webserver, then up to
#: 60 s for the daemon, killing whichever has not stopped (dagster/_cli/dev.py), then stops the code server.
DEV_STOP_SECONDS = 150


#: Both start the same `dagster dev`; `make test` serves through `dg dev`, `make reliability` also the other spelling.
@pytest.mark.parametrize("command", [
    pytest.param(["dagster", "dev", "-w", "workspace.yaml"], marks=pytest.mark.reliability),
    ["dg", "dev"],
], ids=lambda c: " ".join(c[:2]))
def test_a_dev_server_serves_the_code_location(command: list[str], clean_env: dict[str, str],
                                              tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "dev.log"
    # Its own session, as a terminal gives it: Ctrl-C reaches the whole group.
    with log.open("wb") as out:
        proc = subprocess.Popen([*command, "--port", str(port)], cwd=project_root(), env=clean_env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None and not _location_loaded(port):
            time.sleep(2)
        assert _location_loaded(port), f"never served {LOCATION}:\n{log.read_text()[-3000:]}"
        root = psutil.Process(proc.pid)
        tree = [root, *root.children(recursive=True)]
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=DEV_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            alive = "\n".join(f"{p.pid} {p.status()} {' '.join(p.cmdline())}" for p in tree if p.is_running())
            pytest.fail(f"still running {DEV_STOP_SECONDS} s after Ctrl-C:\n{alive}\n{log.read_text()[-4000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    time.sleep(1)
    leftovers = processes_mentioning(str(port), str(clean_env["GREENLIGHT_DATA_DIR"]) + "/pgdata")
    assert [p for p in leftovers if "postgres" not in p.name()] == [], "Dagster processes left behind"

