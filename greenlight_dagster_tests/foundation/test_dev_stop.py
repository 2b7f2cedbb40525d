"""How `greenlight dev` stops what it runs: the first Ctrl-C is graceful but bounded, the second forceful.

The supervised command stands in for a `dagster dev` whose webserver will not stop (open browser
connections, a finished run's worker): it ignores SIGINT and SIGTERM, and so does its child, which
even leaves the process group as a run worker or server could. Nothing may outlive the stop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from greenlight_dagster_tests.processes import processes_mentioning

STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "subprocess.Popen([sys.executable, '-c', 'import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "time.sleep(600)', sys.argv[1]], start_new_session=True)\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)
SUPERVISOR = (
    "import os, sys\n"
    "from pathlib import Path\n"
    "from greenlight_dagster.cli.dev import supervise\n"
    "cmd = [sys.executable, '-c', sys.argv[1], sys.argv[2]]\n"
    "sys.exit(supervise(cmd, env=dict(os.environ), cwd=Path.cwd(), grace=float(sys.argv[3])))\n"
)


def _start(grace: float) -> tuple[subprocess.Popen[str], str]:
    marker = f"stubborn-{uuid.uuid4().hex}"
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR, STUBBORN, marker, str(grace)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(1.5)  # the supervisor notes the grandchild on its next look
    assert len(processes_mentioning(marker)) == 3  # supervisor, command, the command's child
    return proc, marker


def _stopped_within(proc: subprocess.Popen[str], seconds: float) -> float:
    started = time.monotonic()
    try:
        proc.wait(timeout=seconds)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return time.monotonic() - started


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_is_graceful_for_a_bounded_time(signum: int) -> None:
    proc, marker = _start(grace=2)
    try:
        proc.send_signal(signum)
        elapsed = _stopped_within(proc, 20)
    finally:
        for leftover in processes_mentioning(marker):
            leftover.kill()
    assert 2 <= elapsed < 10, f"stopped after {elapsed:.1f} s"
    assert "Ctrl-C again to force" in (proc.stderr.read() if proc.stderr else "")
    time.sleep(0.5)
    assert processes_mentioning(marker) == []


def test_a_second_ctrl_c_forces_at_once() -> None:
    proc, marker = _start(grace=120)
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(1)
        assert proc.poll() is None, "the grace period had not run out"
        proc.send_signal(signal.SIGINT)
        elapsed = _stopped_within(proc, 20)
    finally:
        for leftover in processes_mentioning(marker):
            leftover.kill()
    assert elapsed < 6, f"stopped {elapsed:.1f} s after the second Ctrl-C"
    time.sleep(0.5)
    assert processes_mentioning(marker) == []
