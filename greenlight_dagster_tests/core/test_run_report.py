"""The sync report's Markdown and chart from given measures and drift (no warehouse, no Dagster)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from greenlight_dagster.core.run_report import RunMeasures, drift_examples, render_chart, report_markdown

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)


def _measures(run_id: str = "abcdef0123", **overrides: Any) -> RunMeasures:
    values: dict[str, Any] = {"run_id": run_id, "measured_at": T0, "records_synced": 10, "jobs_created": 2,
                              "errors": 0, "dead_letters": 1, "mapping_coverage": 0.5, "duration_seconds": 12.5}
    return RunMeasures(**(values | overrides))


def _drift(work_order_id: int, kind: str, *, expected: bool = False, why: str = "it differs") -> dict[str, Any]:
    return {"work_order_id": work_order_id, "sf_job_id": work_order_id + 1000, "kind": kind, "why": why,
            "action": "do something", "expected": expected}


def test_measures_survive_the_run_row() -> None:
    current = _measures(mapping_coverage=None)
    assert RunMeasures.from_stats(current.as_stats()) == current


def test_the_report_sets_the_run_against_the_average_and_embeds_the_chart() -> None:
    history = [_measures("old", records_synced=30, mapping_coverage=None), _measures()]
    report = report_markdown(history[-1], history, [], b"png")
    assert report.startswith("## Sync report, run `abcdef01` (2026-01-05 12:00 UTC)")
    assert "| records synced (new versions landed) | 10 | 20 |" in report
    assert "| customer mapping coverage (%) | 50.0 % | 50.0 % |" in report  # a run without coverage is not a 0
    assert f"![last 2 runs](data:image/png;base64,{base64.b64encode(b'png').decode()})" in report
    assert "### No drift: every linked PW work order and SF job agree." in report


def test_the_report_counts_only_the_drift_to_act_on() -> None:
    drift = [_drift(1, "closed in PW, open in SF"), _drift(2, "closed in PW, open in SF; several SF jobs"),
             _drift(3, "status mismatch", expected=True)]
    report = report_markdown(_measures(), [_measures()], drift, b"")
    assert "### Drift: 2 record(s) where PW and SF disagree" in report
    assert "| closed in PW, open in SF | 2 |" in report and "| several SF jobs | 1 |" in report
    assert "status mismatch" not in report and "1 more the push handles" in report

    handled = report_markdown(_measures(), [_measures()], drift[2:], b"")
    assert "No drift" in handled and "1 record(s) pushed or still to send" in handled


def test_the_check_examples_are_the_drift_to_act_on_escaped() -> None:
    drift = [_drift(1, "status mismatch", why="[click](https://x)"), _drift(2, "status mismatch", expected=True)]
    examples = drift_examples(drift)
    assert examples.startswith("- work order 1 / SF job 1001: ") and "work order 2" not in examples
    assert "](" not in examples  # remote text cannot render a link
    assert drift_examples(drift[1:]) == "none"
    assert len(drift_examples([_drift(n, "x") for n in range(30)], limit=3).splitlines()) == 3


def test_the_chart_is_a_png_even_for_one_run_without_coverage() -> None:
    assert render_chart([_measures(mapping_coverage=None)]).startswith(PNG_MAGIC)
