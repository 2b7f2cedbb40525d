"""`greenlight dev` (`make dev`): embedded warehouse + sandbox + `dagster dev` on 127.0.0.1, stopped as one.

The sandbox stands in for PropertyWare and ServiceFusion unless their connection variables are
set (or always, with ``GREENLIGHT_SANDBOX=1``), so the UI can materialize every asset on a
fresh machine.

``dagster dev`` started from a script ignores SIGINT unless it leads its own process group,
so it runs in a new session and we forward Ctrl-C / SIGTERM to that whole group, wait,
then stop the embedded PostgreSQL we started: nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

import click

from greenlight_dagster.cli.local import local_environment, missing_connection_settings
from greenlight_dagster.sandbox.generator import SCALES


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface the UI binds to.")
@click.option("--port", default=3000, show_default=True, type=int)
@click.option("--scale", type=click.Choice(list(SCALES)), default="demo", show_default=True,
              help="Size of a newly generated sandbox world.")
def dev(host: str, port: int, scale: str) -> None:
    """Run the Dagster UI and daemon against the warehouse until Ctrl-C."""
    with local_environment(scale=scale, force_sandbox=bool(missing_connection_settings())) as env:
        code = _serve(env, host, port)
    sys.exit(0 if code in (0, -signal.SIGINT, -signal.SIGTERM, 130) else code)


def _serve(env: dict[str, str], host: str, port: int) -> int:
    """Run `dagster dev` in its own session until it exits; Ctrl-C/SIGTERM are forwarded to it."""
    root = Path(env["GREENLIGHT_PROJECT_ROOT"])
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(root / "workspace.yaml"), "-h", host, "-p", str(port)]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=root, start_new_session=True)

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        code = proc.wait()
    finally:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        _reap_group(proc.pid)
    return code


def _reap_group(pgid: int) -> None:
    """Kill anything still alive in dagster's process group (code servers, daemon)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
