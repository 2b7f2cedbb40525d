"""`greenlight warehouse` commands against the session warehouse."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from greenlight_dagster.cli import COMMANDS, main
from greenlight_dagster.warehouse import migrate


def test_url_prints_the_configured_warehouse_last(warehouse_url: URL) -> None:
    result = CliRunner().invoke(main, ["warehouse", "url"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == warehouse_url.render_as_string(hide_password=True)


def test_migrate_reports_already_at_head(warehouse_engine: Engine) -> None:
    result = CliRunner().invoke(main, ["warehouse", "migrate"])
    assert result.exit_code == 0, result.output
    assert f"already at {migrate.head_revision()}" in result.output or "->" in result.output


def test_down_refuses_to_touch_a_configured_server(warehouse_url: URL) -> None:
    result = CliRunner().invoke(main, ["warehouse", "down"])
    assert result.exit_code == 0
    assert "not ours to stop" in result.output


def test_help_on_every_command() -> None:
    for args in (["--help"], ["warehouse", "up", "--help"], *([name, "--help"] for name in COMMANDS)):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, args
        assert "Usage:" in result.output
        if len(args) == 2:
            assert f"main {args[0]} " in result.output, "the lazy entry names its own command"


def test_the_command_list_imports_no_command() -> None:
    """`greenlight --help` and a mistyped command answer without importing Dagster (issue 18 item 8)."""
    probe = ("import sys; from click.testing import CliRunner; from greenlight_dagster.cli import main; "
             "out = CliRunner().invoke(main, ['--help']).output + CliRunner().invoke(main, ['synk']).output; "
             "print(out); assert 'dagster' not in sys.modules, 'dagster imported'")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "backfill" in done.stdout and "No such command 'synk'" in done.stdout


@pytest.mark.parametrize(("args", "named"), [
    (["preview", "--flag", "dry_run=maybe"], "'maybe'"),
    (["preview", "--flag", "nosuch=1"], "'nosuch'"),
    (["flags", "set", "pw_open_statuses", "0"], "missing: In Progress"),
    (["dead-letters", "replay", "abc"], "'abc'"),
    (["backfill", "--from", "2025-02-10", "--to", "2025-02-01"], "2025-02-10 is after"),
    (["backfill", "--from", "1900-01-01", "--to", "1900-01-02"], "1900-01-01..1900-01-02 is outside"),
    (["sync", "--partition", "garbage"], "'garbage'"),
    (["status", "--runs", "0"], "0 is not in the range"),
])
def test_wrong_input_is_one_sentence_before_anything_starts(args: list[str], named: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17 item 8: one sentence naming the input, no traceback, and nothing started (no API endpoints
    and no reachable warehouse here)."""
    for name in ("GREENLIGHT_PW_WSDL_URL", "GREENLIGHT_SF_BASE_URL", "GREENLIGHT_SANDBOX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GREENLIGHT_WAREHOUSE_URL", "postgresql+psycopg2://nobody@127.0.0.1:9/none")
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (1, 2), (args, result.output)
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and "Traceback" not in result.output, result.output
    assert named in error_lines[0], result.output
