"""Chaos sync: full cycles with seeded faults on both servers end where a fault-free sync ends.

Each cycle is the real ``sync`` job (ingest -> dbt -> reconcile -> push, SF progress pushed back
to PW). Connection resets, 5xx, 429 bursts, latency spikes and commit-then-drop on the writes
hit a share of every call; then the faults stop and the sync is run until it has nothing left
to send. The SF and PW sandboxes and the warehouse marts must then equal the fault-free
baseline of the same seed (`harness.fingerprint`: stable content only), with no SF job doubled
and every intended write accounted for in the ledger (done, or dead with its reason).
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import URL

from greenlight_dagster_tests.reliability.harness import (
    Fingerprint,
    chaos_rules,
    converge,
    duplicate_jobs,
    ledger_account,
    run_cycle,
    world,
)
from greenlight_dagster_tests.reliability.report import ReliabilityReport, measured

pytestmark = pytest.mark.integration


def chaos(warehouse_url: URL, baseline: Fingerprint, report: ReliabilityReport, *, rate: float,
          fault_cycles: int) -> None:
    """``fault_cycles`` cycles under `chaos_rules` at ``rate``, then clean cycles to convergence; then compare."""
    with world(warehouse_url) as faulty, measured(
            report, f"chaos sync {rate:.0%}", load=f"small world, {fault_cycles} cycles under faults",
            faults=f"{rate:.0%} of calls: reset/5xx/429/+{300} ms; commit-then-drop on creates and PW updates",
    ) as row:
        for rule in chaos_rules(rate, seed=int(rate * 100)):
            faulty.sandbox.state.faults.add(rule)
        under_faults = [run_cycle(faulty.sandbox) for _ in range(fault_cycles)]
        fired = dict(faulty.sandbox.state.faults.fired)
        faulty.sandbox.state.faults.clear()
        settling = converge(faulty.sandbox, faulty.engine, max_cycles=3)
        row.lost, extra = baseline.diff(faulty.fingerprint())
        row.duplicates = duplicate_jobs(faulty.sandbox) + extra
        account = ledger_account(faulty.engine)
        row.outcome = (f"{sum(c.success for c in under_faults)}/{fault_cycles} runs ok under faults, "
                       f"{sum(c.retries for c in under_faults)} retries, {sum(fired.values())} faults fired; "
                       f"converged after {len(settling)} clean run(s); ledger {account.states}")
        assert settling[-1].success and settling[-1].writes == 0, settling
        assert (row.lost, row.duplicates) == (0, 0), f"chaos state differs from the baseline: {row.outcome}"
        assert account.unaccounted == 0, account


@pytest.mark.reliability
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("rate", [0.10, 0.30])
def test_chaos_full(warehouse_url: URL, baseline: Fingerprint, reliability_report: ReliabilityReport,
                    rate: float) -> None:
    chaos(warehouse_url, baseline, reliability_report, rate=rate, fault_cycles=3)
