"""`greenlight dev` (`make dev`): embedded warehouse + sandbox + `dg dev` on 127.0.0.1, stopped as one.

The sandbox stands in for PropertyWare and ServiceFusion unless their connection variables are
set (or always, with ``GREENLIGHT_SANDBOX=1``), so the UI can materialize every asset on a
fresh machine.

Stopping: ``dg dev`` (Dagster's dev server) started from a script ignores SIGINT unless it leads its own process
group, so it runs in a new session and Ctrl-C / SIGTERM are forwarded to that whole group. The
first signal asks for a graceful stop and gives it `GRACE_SECONDS`: the webserver can wait on
open browser connections and a code server on a finished run's worker far longer than that. A
second signal, or the grace running out, kills every process of the group and every descendant
seen. Then the embedded PostgreSQL we started is stopped: nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click
import psutil

from greenlight_dagster.cli.local import local_environment, missing_connection_settings
from greenlight_dagster.sandbox.generator import SCALES

#: How long the first Ctrl-C lets Dagster's processes stop on their own (they take 3-5 s when idle).
GRACE_SECONDS = 10.0


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface the UI binds to.")
@click.option("--port", default=3000, show_default=True, type=int)
@click.option("--scale", type=click.Choice(list(SCALES)), default="demo", show_default=True,
              help="Size of a newly generated sandbox world.")
def dev(host: str, port: int, scale: str) -> None:
    """Run the Dagster UI and daemon against the warehouse until Ctrl-C (twice to force)."""
    with local_environment(scale=scale, force_sandbox=bool(missing_connection_settings())) as env:
        code = _serve(env, host, port)
    sys.exit(0 if code in (0, -signal.SIGINT, -signal.SIGTERM, -signal.SIGKILL, 130) else code)


class _StopRequests:
    """Counts Ctrl-C / SIGTERM while Dagster runs; the handlers stay until the command's clean-up is over."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        self.count += 1


def dev_server_command(workspace: Path, host: str, port: int) -> list[str]:
    """``dg dev`` on the workspace file: this Dagster's recommended way (``dagster dev`` is marked superseded).

    Run through this interpreter, so the venv's ``dg`` is used whatever the PATH holds.
    """
    return [sys.executable, "-c", "from dagster_dg_cli.cli import main; main()", "dev", "-w", str(workspace),
            "-h", host, "-p", str(port)]


def _serve(env: dict[str, str], host: str, port: int) -> int:
    """Serve from the Dagster home: started in the project folder, Dagster warns that its dagster.yaml (the one
    plain ``dg dev`` uses) "will not be used" beside our ``DAGSTER_HOME``, which holds a copy of it."""
    workspace = Path(env["GREENLIGHT_PROJECT_ROOT"]) / "workspace.yaml"
    return supervise(dev_server_command(workspace, host, port), env={**os.environ, **env},
                     cwd=Path(env["DAGSTER_HOME"]))


def supervise(cmd: list[str], *, env: dict[str, str], cwd: Path, grace: float = GRACE_SECONDS) -> int:
    """Run ``cmd`` in its own session until it exits or is stopped (see the module docstring); its exit code."""
    requests = _StopRequests()
    signal.signal(signal.SIGINT, requests)
    signal.signal(signal.SIGTERM, requests)
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, start_new_session=True)
    seen: dict[int, psutil.Process] = {}
    forwarded = forced = False
    deadline = float("inf")
    try:
        while proc.poll() is None:
            _remember_descendants(proc.pid, seen)
            if requests.count and not forwarded:
                click.echo(f"stopping (up to {grace:.0f} s; Ctrl-C again to force)", err=True)
                _signal_group(proc.pid, signal.SIGINT)
                forwarded, deadline = True, time.monotonic() + grace
            if not forced and (requests.count > 1 or time.monotonic() > deadline):
                click.echo("forcing the stop", err=True)
                _kill_all(proc.pid, seen)
                forced = True
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.5)
    finally:
        _kill_all(proc.pid, seen)  # whatever outlived the command: code servers, run workers
        proc.wait()
    return proc.returncode


def _remember_descendants(pid: int, seen: dict[int, psutil.Process]) -> None:
    """Note `dagster dev`'s descendants while they are still linked to it: orphans lose that link."""
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(pid).children(recursive=True):
            seen.setdefault(child.pid, child)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _kill_all(pgid: int, seen: dict[int, psutil.Process]) -> None:
    """SIGKILL dagster's process group and every descendant seen (the same process, not a reused pid)."""
    _signal_group(pgid, signal.SIGKILL)
    alive = []
    for child in seen.values():
        with contextlib.suppress(psutil.Error):
            child.kill()  # psutil checks the process's creation time, so a recycled pid is never hit
            alive.append(child)
    psutil.wait_procs(alive, timeout=5)
