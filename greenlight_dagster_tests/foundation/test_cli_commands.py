"""Operator commands fail fast with one clear sentence, and backfill windows are chunked exactly."""

from __future__ import annotations

import itertools
import sys
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from greenlight_dagster.cli import main
from greenlight_dagster.cli.backfill import chunks
from greenlight_dagster.cli.local import CONNECTION_ENV, SANDBOX_ENV


@pytest.mark.parametrize("days", [1, 7, 30, 400])
def test_chunks_cover_the_window_once(days: int) -> None:
    start, end = date(2025, 1, 30), date(2025, 4, 2)
    windows = list(chunks(start, end, days))
    assert windows[0][0] == start and windows[-1][1] == end
    for (_, last), (first, _) in itertools.pairwise(windows):
        assert first == last + timedelta(days=1)
    assert all((last - first).days < days for first, last in windows)


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        list(chunks(date(2025, 1, 1), date(2025, 1, 2), 0))


def test_sync_without_connection_settings_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*CONNECTION_ENV, SANDBOX_ENV):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["sync"])
    assert result.exit_code == 1
    assert "GREENLIGHT_PW_WSDL_URL" in result.output and f"{SANDBOX_ENV}=1" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2023-01-01", "--to", "2024-01-05"], "2023-01-01..2024-01-05 is outside 2024-01-01.."),
    (["--from", "2025-02-01", "--to", "2025-01-01"], "is after"),
    (["--from", "2025-13-01", "--to", "2025-01-01"], "does not match the format"),
])
def test_backfill_rejects_bad_windows(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["backfill", *args])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(("day", "message"), [
    ("garbage", "'garbage' is not a day in the form YYYY-MM-DD"),
    ("1900-01-01", "1900-01-01 is outside 2024-01-01.."),
    ("2025-02-30", "'2025-02-30' is not a day"),
    ("2999-01-01", "2999-01-01 is outside"),
])
def test_sync_refuses_a_bad_partition_before_starting_anything(day: str, message: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_start(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the warehouse and sandbox must not start for a bad argument")

    monkeypatch.setattr(sys.modules["greenlight_dagster.cli.sync"], "local_environment", must_not_start)
    result = CliRunner().invoke(main, ["sync", "--partition", day])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output


def test_help_on_operator_commands() -> None:
    for args in (["sync", "--help"], ["demo", "--help"], ["backfill", "--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, args
        assert "Usage:" in result.output
