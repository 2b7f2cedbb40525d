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
