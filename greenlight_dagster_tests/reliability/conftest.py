"""Fixtures and hooks of the reliability scenarios: the figures table and the session's warehouse."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from greenlight_dagster_tests.reliability.harness import (
    Fingerprint,
    converge,
    isolated_database,
    warehouse_in_force,
    world,
)
from greenlight_dagster_tests.reliability.report import (
    REPORT_KEY,
    REPORT_PATH,
    ReliabilityReport,
    earlier_rows,
    is_full_run,
)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[REPORT_KEY] = ReliabilityReport()


@pytest.fixture(scope="session")
def reliability_report(pytestconfig: pytest.Config) -> ReliabilityReport:
    """Where each scenario adds its row of figures."""
    return pytestconfig.stash[REPORT_KEY]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print the table after every run that had scenarios; write docs/reliability.md on the full run."""
    report = config.stash.get(REPORT_KEY, None)
    if report is None or not report.rows:
        return
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(report.markdown())
    if is_full_run(config):
        earlier = earlier_rows(REPORT_PATH.read_text(encoding="utf-8")) if REPORT_PATH.exists() else []
        REPORT_PATH.write_text(report.merged_with(earlier).document(), encoding="utf-8")
        terminalreporter.write_line(f"written to {REPORT_PATH}")


@pytest.fixture
def isolated_warehouse(warehouse_url: URL) -> Iterator[Engine]:
    """A fresh, migrated database on the session's server, in force for this test only."""
    with isolated_database(warehouse_url) as url, warehouse_in_force(url) as engine:
        yield engine


@pytest.fixture(scope="session")
def baseline(warehouse_url: URL) -> Fingerprint:
    """The converged state of a fault-free sync of the shared world: what every faulty scenario must reach."""
    with world(warehouse_url) as clean:
        cycles = converge(clean.sandbox, clean.engine, max_cycles=3)
        assert cycles[-1].success and cycles[-1].writes == 0, f"the fault-free sync did not converge: {cycles}"
        return clean.fingerprint()
