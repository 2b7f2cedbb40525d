"""The generator's messy values through two real syncs with sending on: a row per planted kind in
docs/reliability.md saying what happened to it (issue 16: held, flagged, pushed once).

The ``small`` world plants, besides the routing and matching cases, the kinds real accounts send:
an impossible date, a far-future date, control characters in a description, an unrelated SF job
whose PO is a work order's bare id (look-alike), the work order's own job entered by hand with the
bare id, and a ``PW-`` stamp whose check number belongs to another work order (foreign). Each row reads the outcome
from the sandbox and the warehouse after the second sync: how many SF jobs our sync created for
the work order, how many PW writes it made, whether the value is flagged in
``marts.bad_source_values`` and whether the plan holds the work order, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.cli.preview import compute_plan
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.sandbox.state import DEFAULT_JOB_CATEGORIES
from greenlight_dagster_tests.e2e.conftest import clean_warehouse  # noqa: F401 - the fixture
from greenlight_dagster_tests.e2e.test_sync_cycle import live_sandbox, run_sync  # noqa: F401 - the fixture
from greenlight_dagster_tests.reliability.report import ReliabilityReport, ScenarioResult

pytestmark = [pytest.mark.reliability, pytest.mark.integration]
_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\t\n"} | {"\x7f"}


@dataclass(frozen=True)
class Fate:
    """What two syncs did with one planted work order."""

    jobs: list[dict[str, Any]]  # SF jobs our sync created for it
    pw_writes: int  # PW writes the ledger holds for it
    flagged: list[str]  # marts.bad_source_values fields
    holds: list[str]  # the plan's hold details

    def text(self) -> str:
        said = [f"{len(self.jobs)} SF job(s) created", f"{self.pw_writes} PW write(s)"]
        if self.flagged:
            said.append(f"flagged: {', '.join(self.flagged)}")
        if self.holds:
            said.append(f"held ({self.holds[0].split(':')[0]})")
        return "; ".join(said)


#: kind -> (what it plants, the outcome it must have)
EXPECTED: dict[str, tuple[str, Callable[[Fate], bool]]] = {
    "impossible_dates": ("startDate 2026-02-30", lambda f: len(f.jobs) == 1 and "startDate" in f.flagged),
    "far_future_dates": ("scheduledEndDate 9999-12-31", lambda f: len(f.jobs) == 1),
    "control_characters": ("controls in the description", lambda f: len(f.jobs) == 1 and not any(
        c in _CONTROL for c in str(f.jobs[0].get("description")))),
    "lookalike_po_numbers": ("a completed SF job's PO is the bare id", lambda f: len(f.jobs) == 1),
    # the work order's own job, entered by hand with the bare id: held as a likely duplicate, never a second job
    "sf_bare_id_jobs": ("its SF job's PO is the bare id", lambda f: not f.jobs and any("duplicate" in h
                                                                                        for h in f.holds)),
    "foreign_stamps": ("PW-<id> with another WO's check number", lambda f: not f.jobs and f.pw_writes == 0
                       and any("stamp" in h for h in f.holds)),
}


def _fates(live_sandbox: Sandbox, engine: Engine, work_orders: set[int]) -> dict[int, Fate]:  # noqa: F811
    planted_jobs = {j["id"] for j in live_sandbox.fixture["servicefusion"]["jobs"]}
    ours = [j for j in live_sandbox.state.snapshot()["servicefusion"]["jobs"] if j["id"] not in planted_jobs]
    with engine.connect() as conn:
        writes = dict(conn.execute(text(
            "select source_id, count(*) from ops.sync_ledger where target = 'pw' and state = 'done' "
            "group by source_id")).all())
        flagged = conn.execute(text("select record_id, field from marts.bad_source_values "
                                    "where entity = 'work_orders'")).all()
    flags = SyncFlags(dry_run=False, enable_service_fusion=True, safe_mode_max_creates=100_000)
    plan = compute_plan(engine, flags, [c["name"] for c in DEFAULT_JOB_CATEGORIES])
    holds = [(row["source_id"], str(row["detail"])) for row in plan.preview_rows() if row["action"] == "hold"]
    return {wo: Fate(jobs=[j for j in ours if j.get("po_number") == f"PW-{wo}"],
                     pw_writes=int(writes.get(str(wo), 0)),
                     flagged=sorted(str(field) for record, field in flagged if str(record) == str(wo)),
                     holds=[detail for source, detail in holds if str(source) == str(wo)])
            for wo in work_orders}


@pytest.mark.timeout(1500)
def test_each_planted_kind_is_held_flagged_or_pushed_once(live_sandbox: Sandbox, clean_warehouse: Engine,  # noqa: F811
                                                          reliability_report: ReliabilityReport) -> None:
    planted = live_sandbox.fixture["_planted"]
    targets = {kind: [p["workOrderID"] for p in planted[kind]] for kind in EXPECTED}
    began = time.monotonic()
    run_sync(live_sandbox)
    _, again = run_sync(live_sandbox)
    seconds = time.monotonic() - began
    fates = _fates(live_sandbox, clean_warehouse, {wo for ids in targets.values() for wo in ids})
    resent = [r for r in again if (r["server"] == "sf" and r["method"] == "POST" and "oauth" not in r["operation"])
              or r["operation"] in ("updateWorkOrder", "closeWorkOrder", "attachNoteToWorkOrder")]

    wrong = []
    for kind, (plants, holds_up) in EXPECTED.items():
        assert targets[kind], f"the small world plants no {kind}"
        for wo in targets[kind]:
            fate = fates[wo]
            good = holds_up(fate)
            wrong += [] if good else [(kind, wo, fate)]
            reliability_report.add(ScenarioResult(
                f"planted: {kind}", f"small world, WO {wo}, 2 syncs sending", plants,
                ("" if good else "UNEXPECTED: ") + fate.text(), lost=0, duplicates=max(0, len(fate.jobs) - 1),
                seconds=seconds))
    assert not wrong, wrong
    assert resent == [], "the second sync sent again what the first had pushed"
