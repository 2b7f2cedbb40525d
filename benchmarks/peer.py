"""Peer comparison: our raw ingestion + dbt snapshots vs dlt (scd2 merge), same data, same Postgres, same run.

    .venv/bin/python benchmarks/peer.py [--scale demo] [--repeat 3]

Both pipelines read the same sandbox world (latency off, SF limit out of the way, for both)
into the same embedded PostgreSQL server, ours into ``raw.*`` + the dbt snapshot schemas,
dlt into its own dataset (``peer_dlt``). Each is one child process measured the same way
(`common.run_child`: wall time, peak RSS of the whole process tree - our dbt subprocess and
dlt's normalize/load workers included):

* **ours**: one Dagster run of the ``sync`` job's subset that ends at the SCD2 snapshots: the
  eleven raw assets, the staging views and the four ``snap_*`` snapshots (dbt tests left out,
  as dlt runs none);
* **dlt**: `benchmarks/peers/dlt_pipeline.py`, written by dlt's docs (see its docstring).

Two phases per repeat, because SCD2 cost lives in both: the **initial** load into empty
schemas, then an **incremental** run after 1 % of every incremental entity changed
(`ingest.change_one_percent`). The order of the two pipelines alternates between
repeats so neither always runs on a warmer machine. Ratios are ours ÷ dlt's: below 1 is better.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import MIB, Figure, Spread, print_table, run_child, write_results
from benchmarks.daily_sync import FAST_SF_RATE, RATE_LIMIT_ENV, BenchWorld, traversable_tempdir
from benchmarks.ingest import change_one_percent, empty_landing_zone
from greenlight_dagster.sandbox.generator import SCALES

PEER_SCRIPT = Path(__file__).resolve().parent / "peers" / "dlt_pipeline.py"
DATASET = "peer_dlt"
#: Schemas a reset keeps (migrations own raw/ops; everything else is dbt's or dlt's and is rebuilt).
KEPT_SCHEMAS = ("raw", "ops", "public", "information_schema")


# ---------------------------------------------------------------- the child: our pipeline up to the snapshots

def child_ours(raw_only: bool = False) -> None:
    """One run of the sync job's subset raw -> staging -> snapshots (no checks); prints a JSON line.

    ``raw_only``: the eleven raw assets alone (`warehouse` lands data this way and times dbt itself).
    """
    import time

    import dagster as dg

    from greenlight_dagster.definitions import load_definitions
    from greenlight_dagster.defs.automation.jobs import SYNC_JOB_NAME
    from greenlight_dagster.lib.ingest import latest_partition_key

    began = time.perf_counter()
    defs = load_definitions()
    graph = defs.resolve_asset_graph()
    snapshots = [key for key in graph.get_all_asset_keys() if key.path[-1].startswith("snap_")]
    selection: dg.AssetSelection = dg.AssetSelection.assets(*snapshots).upstream()
    if raw_only:
        selection = selection & dg.AssetSelection.groups("propertyware", "servicefusion")
    keys = selection.resolve(graph)
    job = defs.resolve_job_def(SYNC_JOB_NAME).get_subset(asset_selection=set(keys), asset_check_selection=set())
    loaded = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, partition_key=latest_partition_key(),
                                        raise_on_error=False, tags={"greenlight/trigger": "benchmark"})
        ran = time.perf_counter()
        steps = {s.step_key: s.end_time - s.start_time for s in instance.get_run_step_stats(result.run_id)
                 if s.start_time is not None and s.end_time is not None}
    profile = {"definitions and job subset": loaded - began, **{f"step {k}": v for k, v in steps.items()},
               "run set-up and hand-over (run time not in a step)": ran - loaded - sum(steps.values())}
    print(json.dumps({"seconds": time.perf_counter() - began, "success": result.success, "assets": len(keys),
                      "snapshots": len(snapshots), "profile": profile}))


# ---------------------------------------------------------------- the parent

@dataclass(frozen=True)
class Measured:
    pipeline: str  # ours | dlt
    phase: str  # initial | incremental
    seconds: float  # whole child process
    inner_seconds: float  # the pipeline alone, as the child timed it (interpreter and imports excluded)
    peak_rss_bytes: int
    profile: dict[str, float] = field(default_factory=dict)  # ours: where the seconds went, by phase of the run


def drop_built_schemas(url: str, *, empty_raw: bool) -> None:
    """Drop every schema dbt or dlt built (history included); with ``empty_raw`` also the landing zone."""
    engine = create_engine(url)
    try:
        if empty_raw:
            empty_landing_zone(engine)
        with engine.begin() as conn:
            schemas: list[str] = list(conn.execute(
                text("select nspname from pg_namespace where nspname not like 'pg\\_%'")).scalars())
            for schema in [s for s in schemas if s not in KEPT_SCHEMAS]:
                conn.execute(text(f'drop schema "{schema}" cascade'))
    finally:
        engine.dispose()


def reset(url: str, pipelines_dir: Path) -> None:
    """Empty landing zone, no dbt or dlt schemas, no dlt state: the next runs are first loads."""
    drop_built_schemas(url, empty_raw=True)
    shutil.rmtree(pipelines_dir, ignore_errors=True)


def ours_command(*, raw_only: bool = False) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child-ours", *(["--raw-only"] if raw_only else [])]


def measure(pipeline: str, phase: str, env: dict[str, str], pipelines_dir: Path) -> Measured:
    cmd = (ours_command() if pipeline == "ours"
           else [sys.executable, str(PEER_SCRIPT), "--pipelines-dir", str(pipelines_dir), "--dataset", DATASET])
    child = run_child(cmd, env=env)
    report = json.loads(child.stdout.strip().splitlines()[-1])
    if report.get("success") is False or report.get("failed_jobs"):
        raise RuntimeError(f"{pipeline} {phase} run failed: {report}")
    inner = float(report["seconds"])
    profile = {"interpreter and imports": child.seconds - inner, **report["profile"]} if "profile" in report else {}
    return Measured(pipeline, phase, child.seconds, inner, child.peak_rss_bytes, profile)


def run(*, scale: str = "demo", repeat: int = 3, log: Any = print) -> list[Measured]:
    """``repeat`` x (reset, both initial loads, 1 % change, both incremental runs), order alternating."""
    results: list[Measured] = []
    with BenchWorld(scale=scale) as world:
        assert world.sandbox is not None
        env = {**world.env, **world.sandbox.env("rest"), RATE_LIMIT_ENV: str(FAST_SF_RATE)}  # both sides read PW REST
        url = env["GREENLIGHT_WAREHOUSE_URL"]
        pipelines_dir = traversable_tempdir("glbp-")
        try:
            for n in range(repeat):
                order = ("ours", "dlt") if n % 2 == 0 else ("dlt", "ours")
                reset(url, pipelines_dir)
                for pipeline in order:
                    results.append(measure(pipeline, "initial", env, pipelines_dir))
                    log(f"peer: repeat {n + 1}: {results[-1]}")
                change_one_percent(world.sandbox, n)
                for pipeline in order:
                    results.append(measure(pipeline, "incremental", env, pipelines_dir))
                    log(f"peer: repeat {n + 1}: {results[-1]}")
        finally:
            shutil.rmtree(pipelines_dir, ignore_errors=True)
    return results


def _of(results: list[Measured], pipeline: str, phase: str, attr: str) -> Spread:
    return Spread.of([float(getattr(r, attr)) for r in results if r.pipeline == pipeline and r.phase == phase])


#: Issue 19's targets, ours ÷ dlt's: the incremental run (what an operator lives with) at ``medium``,
#: the initial load at ``large``. A cell without a target is reported, not judged.
TARGETS: dict[tuple[str, str], float] = {
    ("incremental", "seconds"): 2.0, ("incremental", "peak_rss_bytes"): 2.0, ("initial", "seconds"): 0.8}


def _ratio_figure(name: str, value: str, ratio: float, target: float | None) -> Figure:
    return (Figure(name, value, f"<= {target:g}", ratio <= target) if target is not None
            else Figure(name, value, "-"))


def figures(results: list[Measured], scale: str) -> list[Figure]:
    """Ours ÷ dlt's, per phase: wall time and peak RSS of the process tree, against issue 19's targets."""
    out = []
    for phase in ("initial", "incremental"):
        ours_s, dlt_s = _of(results, "ours", phase, "seconds"), _of(results, "dlt", phase, "seconds")
        ours_m, dlt_m = _of(results, "ours", phase, "peak_rss_bytes"), _of(results, "dlt", phase, "peak_rss_bytes")
        ours_i, dlt_i = _of(results, "ours", phase, "inner_seconds"), _of(results, "dlt", phase, "inner_seconds")
        time_ratio = statistics.median(
            [o / d for o, d in zip(ours_s.runs, dlt_s.runs, strict=True)])
        rss_ratio = statistics.median([o / d for o, d in zip(ours_m.runs, dlt_m.runs, strict=True)])
        inner_ratio = statistics.median([o / d for o, d in zip(ours_i.runs, dlt_i.runs, strict=True)])
        n = len(ours_s.runs)
        targeted = scale == "large" if phase == "initial" else scale == "medium"
        out += [
            _ratio_figure(f"peer {scale}, {phase}: wall time ours / dlt (n={n})",
                          f"{ours_s.median:.0f} s / {dlt_s.median:.0f} s = x{time_ratio:.2f}", time_ratio,
                          TARGETS.get((phase, "seconds")) if targeted else None),
            _ratio_figure(f"peer {scale}, {phase}: peak RSS ours / dlt",
                          f"{ours_m.median / MIB:.0f} / {dlt_m.median / MIB:.0f} MiB = x{rss_ratio:.2f}", rss_ratio,
                          TARGETS.get((phase, "peak_rss_bytes")) if targeted else None),
            Figure(f"  {phase}: pipeline time alone (no interpreter/imports) ours / dlt",
                   f"{ours_i.median:.0f} s / {dlt_i.median:.0f} s = x{inner_ratio:.2f}", "-"),
            *profile_figures(results, phase),
        ]
    return out


def profile_figures(results: list[Measured], phase: str) -> list[Figure]:
    """Where our run's time went (median over repeats), largest first: what the ratio above is made of."""
    profiles = [r.profile for r in results if r.pipeline == "ours" and r.phase == phase and r.profile]
    parts = {part for profile in profiles for part in profile}
    medians = {part: statistics.median(profile.get(part, 0.0) for profile in profiles) for part in parts}
    return [Figure(f"    ours, {phase}: {part}", f"{seconds:.1f} s", "-")
            for part, seconds in sorted(medians.items(), key=lambda item: -item[1])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="demo")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child-ours", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--raw-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_ours:
        child_ours(args.raw_only)
        return 0
    results = run(scale=args.scale, repeat=args.repeat)
    table = figures(results, args.scale)
    print_table(f"Peer: ours vs dlt scd2 ({args.scale}, same server, load {os.getloadavg()[0]:.1f})", table)
    print(f"written to {write_results('peer', table, {'scale': args.scale, 'runs': [asdict(r) for r in results]})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
