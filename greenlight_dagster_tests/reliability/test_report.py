"""The figures table: a run of some scenarios replaces their rows and keeps (and dates) the others."""

from __future__ import annotations

from greenlight_dagster_tests.reliability.report import ReliabilityReport, ScenarioResult, earlier_rows

OLD_DOCUMENT = """# Reliability figures

Written by `make reliability` (`pytest -m reliability`) on 2026-11-24 07:38 UTC, Linux x86_64.

| scenario | load | faults injected | outcome | records lost | duplicates | time |
| --- | --- | --- | --- | --- | --- | --- |
| chaos sync 10% | small world | 10% of calls: reset\\|5xx | 3/3 runs ok | 0 | 0 | 66.3 s |
| outage: PropertyWare down | small world | every connection reset | failed in <= 49 s | 0 | 0 | 124.3 s |
"""


def test_a_partial_run_replaces_its_rows_and_keeps_the_others_with_their_date() -> None:
    earlier = earlier_rows(OLD_DOCUMENT)
    assert [(r.scenario, r.faults, r.seconds, r.measured) for r in earlier] == [
        ("chaos sync 10%", "10% of calls: reset|5xx", 66.3, "2026-11-24 07:38 UTC"),
        ("outage: PropertyWare down", "every connection reset", 124.3, "2026-11-24 07:38 UTC"),
    ]
    fresh = ScenarioResult("outage: PropertyWare down", "small world", "every connection reset",
                           "failed in <= 6 s", 0, 0, 80.0, "2026-11-24 10:00 UTC")
    merged = ReliabilityReport([fresh]).merged_with(earlier)
    assert [(r.scenario, r.measured) for r in merged.rows] == [
        ("chaos sync 10%", "2026-11-24 07:38 UTC"), ("outage: PropertyWare down", "2026-11-24 10:00 UTC")]
    assert earlier_rows(merged.document()) == merged.rows  # what it writes, it reads back unchanged
