"""The figures table of the reliability scenarios: every scenario adds one row, the session prints them.

Why a table written by the run rather than by hand: the claim "faults cost nothing" is only
worth the figures measured by the run that makes it. Each scenario records what it did (load,
faults injected) and what it found (records lost, duplicates); the session prints the table
and, when it selected the full scenarios (``pytest -m reliability``), writes it to
``docs/reliability.md``. A run of some of them (``-k``) replaces their rows and keeps the
others, each row saying when it was measured, so a rerun of one scenario never erases the
figures of the rest and never passes old figures off as new.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPORT_PATH = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
COLUMNS = ("scenario", "load", "faults injected", "outcome", "records lost", "duplicates", "time",
           "measured")
STAMP_FORMAT = "%Y-%m-%d %H:%M UTC"


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
    #: When, and how busy the machine was (1-minute load average): a time means little without it.
    measured: str = field(default_factory=lambda: f"{datetime.now(UTC).strftime(STAMP_FORMAT)}, "
                                                  f"load {os.getloadavg()[0]:.1f}")

    def cells(self) -> tuple[str, ...]:
        return (self.scenario, self.load, self.faults, self.outcome, str(self.lost), str(self.duplicates),
                f"{self.seconds:.1f} s", self.measured)


def _split_row(line: str) -> list[str]:
    """The cells of one Markdown table row (``\\|`` inside a cell is not a separator)."""
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def earlier_rows(document: str) -> list[ScenarioResult]:
    """The rows of a previously written docs/reliability.md (a table without ``measured`` gets the header's date)."""
    written = re.search(r"on (\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC)", document)
    rows = []
    for line in document.splitlines():
        cells = _split_row(line) if line.startswith("| ") else []
        if len(cells) < 7 or cells[0] == COLUMNS[0] or set(cells[0]) <= {"-"}:
            continue
        measured = cells[7] if len(cells) > 7 else (written.group(1) if written else "earlier")
        rows.append(ScenarioResult(cells[0], cells[1], cells[2], cells[3], int(cells[4]), int(cells[5]),
                                   float(cells[6].removesuffix(" s")), measured))
    return rows


@dataclass
class ReliabilityReport:
    """The rows collected in one pytest session, in the order the scenarios finished."""

    rows: list[ScenarioResult] = field(default_factory=list)

    def add(self, row: ScenarioResult) -> None:
        self.rows.append(row)

    def merged_with(self, earlier: list[ScenarioResult]) -> ReliabilityReport:
        """This run's rows, plus the earlier rows of scenarios this run did not measure (in their old order)."""
        fresh = {row.scenario for row in self.rows}
        kept = [row for row in earlier if row.scenario not in fresh]
        return ReliabilityReport([*kept, *self.rows])

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table (``|`` inside cells escaped)."""
        def line(cells: tuple[str, ...]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
        return "\n".join([line(COLUMNS), line(tuple("---" for _ in COLUMNS)), *(line(r.cells()) for r in self.rows)])

    def document(self) -> str:
        """The whole ``docs/reliability.md``: what was run, where, and the table."""
        stamp = datetime.now(UTC).strftime(STAMP_FORMAT)
        return (
            "# Reliability figures\n\n"
            f"Written by `make reliability` (`pytest -m reliability`) on {stamp}, {platform.system()} "
            f"{platform.machine()}, Python {platform.python_version()}; a run of some scenarios (`-k`) replaces "
            "their rows and keeps the others, and *measured* says when each row was (with the machine's 1-minute "
            "load average, when recorded). Every row is one scenario of "
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
    except BaseException as exc:  # keep what the scenario found before it failed: the figures explain the failure
        found.outcome = f"FAILED ({type(exc).__name__})" + (f": {found.outcome}" if found.outcome != "ok" else "")
        raise
    finally:
        report.add(ScenarioResult(scenario, load, faults, found.outcome, found.lost, found.duplicates,
                                  time.monotonic() - began))
