"""The sync summary (`greenlight sync` / `make demo`) says which PropertyWare API the run used."""

from __future__ import annotations

import pytest

from greenlight_dagster.cli.sync import SyncOutcome, print_summary


def test_the_summary_names_the_propertyware_api(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = SyncOutcome(run_id="r1", success=True, rows=[("pw/work_orders", {"records_fetched": 151})],
                          propertyware_api="REST only")
    print_summary(outcome)
    assert "PropertyWare API: REST only" in capsys.readouterr().out


def test_a_run_that_planned_nothing_prints_no_api_line(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(SyncOutcome(run_id="r2", success=False))
    assert "PropertyWare API" not in capsys.readouterr().out


def test_the_summary_fits_an_80_column_terminal(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18 item 9: one table of eleven columns collapsed to `rec…`/`pw/…` in 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    read = {"records_fetched": 30002, "new_versions": 30002, "rejected": 12, "api_calls": 301,
            "duration_seconds": 123.4}
    outcome = SyncOutcome(run_id="0960969f-b6f1-4271-8e11-ff8377b9823b", success=True, rows=[
        ("pw/work_orders", read), ("sf/job_statuses", read),
        ("reconcile/push_plan", {"planned": 12345, "held_back": 473}),
        ("push/sf_jobs", {"sent": 12345, "created": 12345, "already_done": 12, "dead_letters": 3}),
        ("reconcile/sync_report", {"dead_letters": 0})])
    print_summary(outcome)
    printed = capsys.readouterr().out
    assert max(len(line) for line in printed.splitlines()) <= 80
    assert "…" not in printed
    for shown in ("reconcile/sync_report", "sf/job_statuses", "30002", "123.4", "12345", "473", "planned", "done"):
        assert shown in printed
