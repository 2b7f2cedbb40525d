"""History cost: the dbt build of snapshots + marts after a 1 % change, against a full build.

    .venv/bin/python benchmarks/warehouse.py [--scale demo] [--repeat 3]

Full history is the point of the warehouse, so its price must follow the change, not the
size of the world. On the ``demo`` sandbox, landed once into ``raw.*``:

* **full build**: every dbt schema dropped (staging, SCD2 snapshots, marts, sync models), then
  ``dbt build --exclude resource_type:test`` - the first build of an account's history;
* **after a 1 % change**: 1 % of every incremental entity changed in the sandbox
  (`ingest.change_one_percent`), landed by an incremental run of the raw assets
  (untimed), then the same ``dbt build``: snapshots add the new versions, marts rebuild.

Tests are left out of both (they are the same work either way; the daily sync's dbt step,
tests included, is reported by `daily_sync`). dbt runs as its own process, with its
target and log paths in a temporary directory so it never touches the project's
``dbt_warehouse/target`` that other runs use; its start-up (~3 s here) is part of each figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import MIB, Figure, Spread, print_table, run_child, write_results
from benchmarks.daily_sync import FAST_SF_RATE, RATE_LIMIT_ENV, BenchWorld, traversable_tempdir
from benchmarks.ingest import change_one_percent
from benchmarks.peer import drop_built_schemas, ours_command
from greenlight_dagster.defs.warehouse.project import DBT_PROJECT_DIR, dbt_executable
from greenlight_dagster.sandbox.generator import SCALES
from greenlight_dagster.warehouse.connection import dbt_env


@dataclass(frozen=True)
class HistoryResult:
    full: Spread  # seconds
    incremental: Spread
    full_rss_mib: Spread
    incremental_rss_mib: Spread

    def ratio(self) -> Spread:
        return Spread.of([i / self.full.median for i in self.incremental.runs])


def dbt_build(env: dict[str, str], scratch: Path) -> tuple[float, int]:
    """(seconds, peak RSS bytes) of one ``dbt build`` of every model, seed and snapshot, tests excluded."""
    child = run_child([dbt_executable(), "build", "--exclude", "resource_type:test", "--quiet",
                       "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                       "--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs")], env=env)
    return child.seconds, child.peak_rss_bytes


def run(*, scale: str = "demo", repeat: int = 3, log: Any = print) -> HistoryResult:
    with BenchWorld(scale=scale) as world:
        assert world.sandbox is not None
        env = {**world.env, **world.sandbox.env(), RATE_LIMIT_ENV: str(FAST_SF_RATE)}
        url = env["GREENLIGHT_WAREHOUSE_URL"]
        env.update(dbt_env(make_url(url)))
        scratch = traversable_tempdir("glbh-")
        try:
            run_child(ours_command(raw_only=True), env=env)  # land the world (untimed)
            full, full_rss = [], []
            for n in range(repeat):
                drop_built_schemas(url, empty_raw=False)
                seconds, rss = dbt_build(env, scratch)
                full.append(seconds)
                full_rss.append(rss / MIB)
                log(f"history: full build {n + 1}/{repeat}: {seconds:.1f} s")
            incremental, incremental_rss = [], []
            for n in range(repeat):
                changed = change_one_percent(world.sandbox, n)
                run_child(ours_command(raw_only=True), env=env)  # land the change (untimed)
                seconds, rss = dbt_build(env, scratch)
                incremental.append(seconds)
                incremental_rss.append(rss / MIB)
                log(f"history: after a 1 % change ({changed} records) {n + 1}/{repeat}: {seconds:.1f} s")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return HistoryResult(Spread.of(full), Spread.of(incremental), Spread.of(full_rss), Spread.of(incremental_rss))


def figures(result: HistoryResult) -> list[Figure]:
    ratio = result.ratio()
    n = len(result.full.runs)
    return [
        Figure(f"dbt snapshots + marts, full build (n={n})",
               f"{result.full.median:.1f} s ({result.full.min:.1f}-{result.full.max:.1f})", "-"),
        Figure("dbt snapshots + marts after a 1 % change",
               f"{result.incremental.median:.1f} s ({result.incremental.min:.1f}-{result.incremental.max:.1f})", "-"),
        Figure("  history cost: after 1 % change / full build", f"{ratio.median:.2f} ({ratio.min:.2f}-{ratio.max:.2f})",
               "-"),
        Figure("  peak RSS of dbt, full / after 1 %",
               f"{result.full_rss_mib.median:.0f} / {result.incremental_rss_mib.median:.0f} MiB", "-"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="demo")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    result = run(scale=args.scale, repeat=args.repeat)
    table = figures(result)
    print_table(f"History cost ({args.scale}, load {os.getloadavg()[0]:.1f})", table)
    raw = {"full": result.full.runs, "incremental": result.incremental.runs}
    print(f"written to {write_results('history', table, raw)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
