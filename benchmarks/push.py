"""Push efficiency: how close the SF job push comes to the allowed rate, 429s, and duplicates (must be 0).

    .venv/bin/python benchmarks/push.py [--scale demo] [--jobs 1000] [--rate 600]

**The scenario (what `main` runs).** A ``demo`` world settled with fast limits (untimed, as in
`daily_sync`), then 1,000 new open PW work orders on buildings whose SF customer exists (each
needs exactly one SF job), then one ``greenlight sync`` in a child process with pushing on, safe
mode on (its cap lifted: 1,000 creates are due) and the sandbox SF limit at 600 requests/minute
*per account* - the real 60/minute scaled up tenfold so the run takes ~2 minutes, the client
paced to the same 600 (``GREENLIGHT_SF_RATE_LIMIT_PER_MINUTE``). No PW latency: the SF push is
what is measured.

* **Write rate**: SF job creates / the ``push/sf_jobs`` step's wall time (Dagster event log),
  against 600/minute: every call a create spends besides the POST (safe mode's checks, strict
  verification's reads, the follow-up plans) and every wait shows up as a share below 1.
  Also shown: the same over the first-to-last create only.
* **429s**: answers the sandbox logged as 429, split at one rate window (60 s) after the first
  create: the client starts with a full bucket and the window it lands in may already hold the
  sync's reads, so a 429 there is tolerated; none after it.
* **Duplicates**: PW work orders with more than one SF job stamped with their id, in the sandbox
  state after the run (0, ever), and how many of the new work orders have exactly one.

Request times come from a sampler thread that records the sandbox's request-log length every
50 ms (the log itself has no timestamps).

`figures` (used by `run_all`) reads the push figures of `daily_sync`'s timed days instead: the
pushes a real day needs, at production latency (SF 60/minute, PW 300 ms per call).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Figure, print_table, write_results
from benchmarks.daily_sync import (
    PW_LATENCY_MS,
    SF_RATE_PER_MINUTE,
    BenchWorld,
    DailyResult,
    DayDelta,
    DayRun,
    SyncRun,
    apply_day,
    count_duplicate_jobs,
    summarize_requests,
)
from greenlight_dagster.core.dedup import stamped_work_order_ids
from greenlight_dagster.sandbox.generator import SCALES
from greenlight_dagster.sandbox.state import SandboxState

WRITE_RATE_TARGET = 0.9  # share of the allowed rate the SF job push should reach
DAILY_WRITE_RATE_TARGET = 0.8  # at production latency (daily_sync's days): lookups may cost the rest
PW_WRITE_OPERATIONS = ("updateWorkOrder", "closeWorkOrder", "attachNoteToWorkOrder")
NEW_JOBS = 1_000
PUSH_RATE_PER_MINUTE = 600
RATE_WINDOW_SECONDS = 60.0
SAMPLE_SECONDS = 0.05


# ---------------------------------------------------------------- the 1,000-job scenario

class RequestClock:
    """When each sandbox request happened: a thread samples the request log's length.

    `time_of` maps a request's ``seq`` to the first sample that saw it (at most one sample
    period late), in ``time.monotonic`` seconds.
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.times: list[float] = []
        self.counts: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="request-clock", daemon=True)

    def __enter__(self) -> RequestClock:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.times.append(time.monotonic())
            self.counts.append(len(self.state.requests))
            self._stop.wait(SAMPLE_SECONDS)
        self.times.append(time.monotonic())
        self.counts.append(len(self.state.requests))

    def time_of(self, seq: int) -> float:
        return self.times[min(bisect_left(self.counts, seq), len(self.times) - 1)]


@dataclass
class PushRun:
    """The timed sync of the scenario and what the sandbox saw."""

    scale: str
    jobs: int
    rate_per_minute: int
    run: SyncRun
    new_work_orders: list[int]
    one_job: int  # new work orders with exactly one stamped SF job after the run
    duplicates: int  # work orders (all of them) with more than one stamped SF job
    request_times: dict[int, float] = field(default_factory=dict)  # seq -> seconds after the first create
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def step_seconds(self) -> float:
        return self.run.asset_seconds("push/sf_jobs")

    def creates(self) -> list[dict[str, Any]]:
        return [r for r in self.run.requests if r["server"] == "sf" and r["method"] == "POST"
                and r["operation"] == "/jobs" and r["status"] == 201]

    def create_span(self) -> float:
        """Seconds from the first to the last successful create."""
        times = [self.request_times[r["seq"]] for r in self.creates()]
        return max(times) - min(times) if times else 0.0

    def too_many(self) -> tuple[int, int]:
        """429 answers (in the first rate window after the first create or before it, after that window)."""
        late = [r for r in self.run.requests if r["status"] == 429
                and self.request_times.get(r["seq"], 0.0) > RATE_WINDOW_SECONDS]
        total = sum(1 for r in self.run.requests if r["status"] == 429)
        return total - len(late), len(late)

    def other_sf_calls_while_pushing(self) -> dict[str, int]:
        """SF requests between the first and the last create that were not creates."""
        creates = self.creates()
        if not creates:
            return {}
        first, last = creates[0]["seq"], creates[-1]["seq"]
        others = [r for r in self.run.requests if r["server"] == "sf" and first <= r["seq"] <= last
                  and not (r["method"] == "POST" and r["operation"] == "/jobs")]
        return summarize_requests(others)


def new_work_order_ids(state: SandboxState, before: set[int]) -> list[int]:
    return sorted(set(state.table("propertyware", "workOrders")) - before)


def run_scenario(*, scale: str = "demo", jobs: int = NEW_JOBS, rate: int = PUSH_RATE_PER_MINUTE,
                 log: Any = print) -> PushRun:
    """Settle a world, add ``jobs`` new open work orders, time one sync at ``rate`` SF requests/minute."""
    load_before = os.getloadavg()
    with BenchWorld(scale=scale) as world:
        log(f"push: settling a {scale} world with fast limits (untimed) ...")
        world.settle(log)
        before = set(world.state.table("propertyware", "workOrders"))
        apply_day(world.state, DayDelta(changed_work_orders=0, new_open_work_orders=jobs, sf_status_changes=0), 1)
        new_ids = new_work_order_ids(world.state, before)
        world.restart_sandbox(sf_rate=rate, account_scope=True)
        log(f"push: {len(new_ids)} new open work orders; timed sync at {rate} SF requests/minute per account ...")
        with RequestClock(world.state) as clock:
            run = world.sync(f"push {jobs}", sf_rate=rate)
        log(f"push: sync {run.seconds:.0f} s, push/sf_jobs {run.asset_seconds('push/sf_jobs'):.0f} s, "
            f"success={run.success}")
        creates = [r["seq"] for r in run.requests if r["server"] == "sf" and r["method"] == "POST"
                   and r["operation"] == "/jobs" and r["status"] == 201]
        origin = clock.time_of(creates[0]) if creates else 0.0
        times = {r["seq"]: clock.time_of(r["seq"]) - origin for r in run.requests}
        per_wo: Counter[int] = Counter()
        for job in world.state.table("servicefusion", "jobs").values():
            per_wo.update(stamped_work_order_ids(job))
        result = PushRun(scale, jobs, rate, run, new_ids, sum(1 for wo_id in new_ids if per_wo[wo_id] == 1),
                         count_duplicate_jobs(world.state), times, load_before)
    result.load_after = os.getloadavg()
    return result


def scenario_figures(result: PushRun) -> list[Figure]:
    allowed = result.rate_per_minute / 60
    creates = len(result.creates())
    share = creates / result.step_seconds / allowed if result.step_seconds else 0.0
    span = result.create_span()
    span_share = (creates - 1) / span / allowed if span else 0.0
    early, late = result.too_many()
    return [
        Figure(f"SF job creates / allowed rate over the push/sf_jobs step ({result.rate_per_minute}/min per account)",
               f"{share:.2f}", f">= {WRITE_RATE_TARGET}", share >= WRITE_RATE_TARGET and result.run.success),
        Figure(f"  step {result.step_seconds:.0f} s for {creates} creates; floor {creates / allowed:.0f} s",
               f"first to last create {span:.0f} s ({span_share:.2f} of the rate)", "-"),
        Figure("  other SF calls between the first and last create",
               ", ".join(f"{k}: {v}" for k, v in result.other_sf_calls_while_pushing().items()) or "none", "-"),
        Figure(f"new work orders with exactly one SF job after one sync (of {len(result.new_work_orders)})",
               str(result.one_job), str(result.jobs), result.one_job == result.jobs),
        Figure(f"429 answers after the first rate window ({early} within it)", str(late), "0", late == 0),
        Figure("work orders with more than one SF job (sandbox state)", str(result.duplicates), "0",
               result.duplicates == 0),
        Figure("  whole sync (ingest, dbt, plan, push) wall time", f"{result.run.seconds:.0f} s", "-"),
    ]


def scenario_details(result: PushRun) -> dict[str, Any]:
    return {"scale": result.scale, "jobs": result.jobs, "rate_per_minute": result.rate_per_minute,
            "load_before": result.load_before, "load_after": result.load_after, "run_id": result.run.run_id,
            "success": result.run.success, "seconds": result.run.seconds, "steps": result.run.steps,
            "metadata": result.run.metadata, "create_span_seconds": result.create_span(),
            "requests": summarize_requests(result.run.requests), "duplicates": result.duplicates,
            "new_with_one_job": result.one_job}


# ---------------------------------------------------------------- the daily sync's pushes (run_all)

def sf_creates(day: DayRun) -> int:
    return sum(1 for r in day.run.requests if r["server"] == "sf" and r["method"] == "POST"
               and r["operation"] == "/jobs" and r["status"] == 201)


def pw_writes(day: DayRun) -> int:
    return sum(1 for r in day.run.requests if r["server"] == "pw" and r["operation"] in PW_WRITE_OPERATIONS
               and r["status"] == 200)


def rate_share(writes: int, seconds: float, allowed_per_minute: float) -> float:
    """Achieved writes/minute ÷ allowed writes/minute (0 when nothing was written)."""
    return 0.0 if seconds <= 0 or writes == 0 else (writes / seconds * 60) / allowed_per_minute


def figures(result: DailyResult) -> list[Figure]:
    if not result.days:
        return [Figure("push efficiency", "no timed run", "-", False)]
    sf_shares = [rate_share(sf_creates(d), d.run.asset_seconds("push/sf_jobs"), SF_RATE_PER_MINUTE)
                 for d in result.days]
    pw_allowed = 60_000 / PW_LATENCY_MS
    pw_shares = [rate_share(pw_writes(d), d.run.asset_seconds("push/pw_work_orders"), pw_allowed)
                 for d in result.days]
    too_many = sum(1 for d in result.days for r in d.run.requests if r["status"] == 429)
    creates = sum(sf_creates(d) for d in result.days)
    planned = sum(d.delta.new_open_work_orders for d in result.days)
    sf_share, pw_share = statistics.median(sf_shares), statistics.median(pw_shares)
    return [
        Figure(f"SF job creates / allowed rate ({creates} creates over {len(result.days)} day(s))",
               f"{sf_share:.2f} ({min(sf_shares):.2f}-{max(sf_shares):.2f})", f">= {DAILY_WRITE_RATE_TARGET}",
               sf_share >= DAILY_WRITE_RATE_TARGET),
        Figure(f"PW writes / allowed rate (1 per {PW_LATENCY_MS} ms)",
               f"{pw_share:.2f} ({min(pw_shares):.2f}-{max(pw_shares):.2f})", f">= {DAILY_WRITE_RATE_TARGET}",
               pw_share >= DAILY_WRITE_RATE_TARGET),
        Figure("new work orders that got their SF job in the same run", f"{creates}/{planned}", "all",
               creates >= planned),
        Figure("429 answers during the timed runs", str(too_many), "0", too_many == 0),
        Figure("work orders with more than one SF job (sandbox, after all days)", str(result.duplicates), "0",
               result.duplicates == 0),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="demo")
    parser.add_argument("--jobs", type=int, default=NEW_JOBS, help="new open work orders to push")
    parser.add_argument("--rate", type=int, default=PUSH_RATE_PER_MINUTE, help="SF requests/minute per account")
    args = parser.parse_args(argv)
    began = time.monotonic()
    result = run_scenario(scale=args.scale, jobs=args.jobs, rate=args.rate)
    table = scenario_figures(result)
    print_table(f"Push of {args.jobs} new SF jobs ({args.scale}, SF {args.rate} req/min per account; load "
                f"{result.load_before[0]:.1f} -> {result.load_after[0]:.1f}, {time.monotonic() - began:.0f} s in all)",
                table)
    print(f"written to {write_results('push', table, scenario_details(result))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
