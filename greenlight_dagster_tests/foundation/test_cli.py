"""`greenlight warehouse` commands against the session warehouse."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from greenlight_dagster.cli import main
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
    for args in (["--help"], ["warehouse", "--help"], ["warehouse", "up", "--help"], ["dev", "--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, args
        assert "Usage:" in result.output
