"""Push efficiency: how close the push comes to the rate SF allows, 429s, and duplicates (must be 0).

    .venv/bin/python benchmarks/push.py [--scale demo]

Measured on the headline's timed day (`daily_sync`), not a scenario of its own: the
pushes that matter are the ones a real day needs, made at production latency (SF 60
requests/minute per account, PW 300 ms per call), after the ingestion and the dbt build that
planned them. `run_all` passes the same `DailyResult` to both; run alone, this script runs one
timed day itself.

* **SF write rate**: job creates ÷ the ``push/sf_jobs`` step's time, against 60/minute. Every
  call a create spends besides the POST (the po_number lookup safe mode makes first, the PW
  re-read strict verification makes first) shows up here as a ratio below 1.
* **PW write rate**: writes ÷ the ``push/pw_work_orders`` step's time, against 1 per 300 ms
  (concurrency 1).
* **429s**: answers the sandbox logged as 429 during the run: the client's pacing should make
  this 0 (a retry after a 429 is a wasted call and a delay).
* **Duplicates**: PW work orders with more than one SF job stamped with their id, counted in
  the sandbox after every timed day: the invariant is 0, ever.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Figure, print_table, write_results
from benchmarks.daily_sync import PW_LATENCY_MS, SF_RATE_PER_MINUTE, DailyResult, DayRun
from benchmarks.daily_sync import run as run_days
from greenlight_dagster.sandbox.generator import SCALES

WRITE_RATE_TARGET = 0.8  # share of the allowed rate the push should reach (ours: lookups may cost the rest)
PW_WRITE_OPERATIONS = ("updateWorkOrder", "closeWorkOrder", "attachNoteToWorkOrder")


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
    sf_shares = [rate_share(sf_creates(d), d.run.steps.get("push__sf_jobs", 0.0), SF_RATE_PER_MINUTE)
                 for d in result.days]
    pw_allowed = 60_000 / PW_LATENCY_MS
    pw_shares = [rate_share(pw_writes(d), d.run.steps.get("push__pw_work_orders", 0.0), pw_allowed)
                 for d in result.days]
    too_many = sum(1 for d in result.days for r in d.run.requests if r["status"] == 429)
    creates = sum(sf_creates(d) for d in result.days)
    planned = sum(d.delta.new_open_work_orders for d in result.days)
    sf_share, pw_share = statistics.median(sf_shares), statistics.median(pw_shares)
    return [
        Figure(f"SF job creates / allowed rate ({creates} creates over {len(result.days)} day(s))",
               f"{sf_share:.2f} ({min(sf_shares):.2f}-{max(sf_shares):.2f})", f">= {WRITE_RATE_TARGET}",
               sf_share >= WRITE_RATE_TARGET),
        Figure(f"PW writes / allowed rate (1 per {PW_LATENCY_MS} ms)",
               f"{pw_share:.2f} ({min(pw_shares):.2f}-{max(pw_shares):.2f})", f">= {WRITE_RATE_TARGET}",
               pw_share >= WRITE_RATE_TARGET),
        Figure("new work orders that got their SF job in the same run", f"{creates}/{planned}", "all",
               creates >= planned),
        Figure("429 answers during the timed runs", str(too_many), "0", too_many == 0),
        Figure("work orders with more than one SF job (sandbox, after all days)", str(result.duplicates), "0",
               result.duplicates == 0),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="demo")
    parser.add_argument("--repeat", type=int, default=1, help="timed days")
    args = parser.parse_args(argv)
    result = run_days(scale=args.scale, repeat=args.repeat)
    table = figures(result)
    print_table(f"Push efficiency on the daily sync ({args.scale}, PW 300 ms/call, SF 60 req/min per account)",
                table)
    print(f"written to {write_results('push', table, {'days': len(result.days)})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
