"""Operator commands fail fast with one clear sentence, and backfill windows are chunked exactly."""

from __future__ import annotations

import itertools
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
    (["--from", "2023-01-01", "--to", "2024-01-05"], "must lie within"),
    (["--from", "2025-02-01", "--to", "2025-01-01"], "is after"),
    (["--from", "2025-13-01", "--to", "2025-01-01"], "does not match the format"),
])
def test_backfill_rejects_bad_windows(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["backfill", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_help_on_operator_commands() -> None:
    for args in (["sync", "--help"], ["demo", "--help"], ["backfill", "--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, args
        assert "Usage:" in result.output
