"""The figures table of the reliability scenarios: every scenario adds one row, the session prints them.

Why a table written by the run rather than by hand: the claim "faults cost nothing" is only
worth the figures measured by the run that makes it. Each scenario records what it did (load,
faults injected) and what it found (records lost, duplicates); the session prints the table
and, when it is the full run (``pytest -m reliability``), writes it to ``docs/reliability.md``.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPORT_PATH = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
COLUMNS = ("scenario", "load", "faults injected", "outcome", "records lost", "duplicates", "time")


@dataclass(frozen=True)
class ScenarioResult:
    """One row of the table."""

    scenario: str
    load: str
    faults: str
    outcome: str
    lost: int
    duplicates: int
    seconds: float

    def cells(self) -> tuple[str, ...]:
        return (self.scenario, self.load, self.faults, self.outcome, str(self.lost), str(self.duplicates),
                f"{self.seconds:.1f} s")


@dataclass
class ReliabilityReport:
    """The rows collected in one pytest session, in the order the scenarios finished."""

    rows: list[ScenarioResult] = field(default_factory=list)

    def add(self, row: ScenarioResult) -> None:
        self.rows.append(row)

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table (``|`` inside cells escaped)."""
        def line(cells: tuple[str, ...]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
        return "\n".join([line(COLUMNS), line(tuple("---" for _ in COLUMNS)), *(line(r.cells()) for r in self.rows)])

    def document(self) -> str:
        """The whole ``docs/reliability.md``: what was run, where, and the table."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            "# Reliability figures\n\n"
            f"Written by `make reliability` (`pytest -m reliability`) on {stamp}, {platform.system()} "
            f"{platform.machine()}, Python {platform.python_version()}. Every row is one scenario of "
            "`greenlight_dagster_tests/reliability/` run against the sandbox servers and a real PostgreSQL; "
            "*records lost* and *duplicates* are counted by comparing the converged SF/PW sandbox state and the "
            "warehouse marts with a fault-free run of the same seed (see `harness.py` for what is compared and "
            "what is excluded). Do not edit by hand: rerun `make reliability`.\n\n"
            f"{self.markdown()}\n"
        )


REPORT_KEY = pytest.StashKey[ReliabilityReport]()


def is_full_run(config: pytest.Config) -> bool:
    """Whether the session selected the full scenarios (``-m reliability``), which own docs/reliability.md."""
    expression = str(config.getoption("markexpr") or "")
    return "reliability" in expression and "not reliability" not in expression


@dataclass
class Outcome:
    """What a scenario found, filled in while it runs; a scenario that raises is recorded as FAILED."""

    outcome: str = "ok"
    lost: int = 0
    duplicates: int = 0


@contextmanager
def measured(report: ReliabilityReport, scenario: str, *, load: str, faults: str) -> Iterator[Outcome]:
    """Time the block and add its row, also when an assertion fails (a red row is still a figure)."""
    began = time.monotonic()
    found = Outcome()
    try:
        yield found
    except BaseException as exc:
        found.outcome = f"FAILED ({type(exc).__name__})"
        raise
    finally:
        report.add(ScenarioResult(scenario, load, faults, found.outcome, found.lost, found.duplicates,
                                  time.monotonic() - began))
