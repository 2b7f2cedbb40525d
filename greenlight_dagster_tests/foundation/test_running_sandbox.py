"""Which sandbox a command attaches to: only one whose owner is alive and whose admin API answers.

The whole path (`greenlight dev` serving, `preview` and `backfill` in a second terminal) is
``ui/test_operator_path.py``; these are the record's edge cases, in process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from greenlight_dagster.cli.local import (
    CONNECTION_ENV,
    SANDBOX_ENV,
    local_environment,
    local_sandbox,
    running_sandbox,
    running_sandbox_file,
)
from greenlight_dagster.sandbox.runner import Sandbox


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GREENLIGHT_DATA_DIR", str(tmp_path))
    for name in (*CONNECTION_ENV, SANDBOX_ENV):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def other_process() -> Iterator[int]:
    """A live process that is not this one (the owner a real record names)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def _record(pid: int, admin_url: str) -> None:
    path = running_sandbox_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "admin_url": admin_url, "env": {"GREENLIGHT_SF_BASE_URL": "x"}}))


def test_a_live_answering_sandbox_is_used(data_dir: Path, other_process: int) -> None:
    with Sandbox(scale="small") as sandbox:
        _record(other_process, sandbox.info["admin_url"])
        found = running_sandbox()
    assert found is not None and found["pid"] == other_process and found["env"] == {"GREENLIGHT_SF_BASE_URL": "x"}


def test_a_record_of_a_dead_or_silent_owner_is_ignored(data_dir: Path, other_process: int) -> None:
    with Sandbox(scale="small") as sandbox:
        admin_url = sandbox.info["admin_url"]
    _record(other_process, admin_url)  # stopped: nothing answers there
    assert running_sandbox() is None
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    _record(int(dead.stdout), admin_url)
    assert running_sandbox() is None


def test_the_owner_publishes_its_sandbox_for_as_long_as_it_runs(data_dir: Path) -> None:
    with local_sandbox(scale="small", seed=0, echo=lambda _message: None) as env:
        record = json.loads(running_sandbox_file().read_text())
        assert record["env"] == env and running_sandbox_file().stat().st_mode & 0o077 == 0
        assert running_sandbox() is None, "a process does not attach to its own sandbox"
    assert not running_sandbox_file().exists()


def test_without_settings_or_a_running_sandbox_the_error_says_what_to_do(data_dir: Path) -> None:
    with pytest.raises(click.ClickException, match=r"start `make dev` \(commands then use its sandbox\)"), \
            local_environment():
        pass
