"""Outage: one system unreachable while the other works; the run fails fast and clearly, the next catches up.

"Down" is every connection to that server reset (the sandbox's ``reset`` fault on every
operation): what a crashed service behind a load balancer looks like. The run must end within
seconds: the run's one breaker for that system opens after its threshold of consecutive
failures, in whichever asset meets the outage first, and every later asset of that system fails
fast without a request (so the whole run sends at most the threshold's worth of requests there),
while the other system's assets carry on. The failure must name the breaker, the run must send
nothing (no plan is pushed from a half-ingested warehouse) and leave no ledger entry in flight;
once the system is back, syncs converge to the fault-free baseline.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from greenlight_dagster_tests.reliability.harness import (
    Fingerprint,
    converge,
    duplicate_jobs,
    ledger_account,
    run_cycle,
    world,
)
from greenlight_dagster_tests.reliability.report import ReliabilityReport, measured

pytestmark = pytest.mark.integration

#: A failing run must end within this: one asset's retries until the run's breaker opens, then fail-fast.
FAIL_FAST_SECONDS = 30
#: The breaker's threshold (the resources' default): the requests the whole run may spend on the dead system.
BREAKER_THRESHOLD = 5
NAMES = {"pw": "PropertyWare", "sf": "ServiceFusion"}


def outage(warehouse_url: URL, baseline: Fingerprint, report: ReliabilityReport, *, down: str, runs: int) -> None:
    """``runs`` syncs while ``down`` resets every connection, then syncs until converged; then compare."""
    with world(warehouse_url) as hit, measured(report, f"outage: {NAMES[down]} down",
                                               load=f"small world, {runs} run(s) during the outage",
                                               faults=f"every {NAMES[down]} connection reset") as row:
        hit.sandbox.state.faults.add({"server": down, "operation": "*", "kind": "reset", "rate": 1.0})
        seen = len(hit.sandbox.state.request_log())
        during = [run_cycle(hit.sandbox) for _ in range(runs)]
        # API calls only: the PW WSDL document (a GET, fetched once per process) is not an operation.
        requests_to_down = sum(1 for r in hit.sandbox.state.request_log(since=seen)
                               if r["server"] == down and not (down == "pw" and r["method"] == "GET"))
        with hit.engine.connect() as conn:
            in_flight = conn.execute(text("select count(*) from ops.sync_ledger where state = 'sending'")).scalar()
        hit.sandbox.state.faults.clear()
        after = converge(hit.sandbox, hit.engine, max_cycles=3)
        row.lost, extra = baseline.diff(hit.fingerprint())
        row.duplicates = extra + duplicate_jobs(hit.sandbox)
        slowest = max(c.seconds for c in during)
        sent = sum(c.writes for c in during)
        breaker_failures = [[f for f in c.failures if f"{NAMES[down]} circuit breaker open after" in f] for c in during]
        row.outcome = (f"{runs} run(s) failed in <= {slowest:.1f} s, run breaker open "
                       f"({len(breaker_failures[0])} {NAMES[down]} step(s) refused, {requests_to_down} requests "
                       f"reached {NAMES[down]} in all), {sent} writes sent; caught up in {len(after)} run(s)")
        assert not any(c.success for c in during)
        assert slowest < FAIL_FAST_SECONDS, during
        assert all(breaker_failures), during
        assert requests_to_down <= runs * BREAKER_THRESHOLD, requests_to_down
        assert sent == 0 and in_flight == 0
        assert after[-1].success and after[-1].writes == 0, after
        assert (row.lost, row.duplicates) == (0, 0) and ledger_account(hit.engine).unaccounted == 0


@pytest.mark.reliability
@pytest.mark.timeout(900)
@pytest.mark.parametrize("down", ["pw", "sf"])
def test_outage_across_runs(warehouse_url: URL, baseline: Fingerprint, reliability_report: ReliabilityReport,
                            down: str) -> None:
    outage(warehouse_url, baseline, reliability_report, down=down, runs=2)
