"""Ingestion benchmark: full-load throughput, peak memory at two scales, and the cost of an incremental run.

    .venv/bin/python benchmarks/ingest.py [--scale demo|medium|large] [--repeat 3]

Why it is built this way:

* **Its own world.** An embedded PostgreSQL in a temporary directory and its own sandbox
  (faults and latency off, the documented 60 requests/minute per SF token), so the figures do
  not depend on a developer's data or on a shared server, and nothing is left behind.
* **The ingestion runs in a child process** that materializes the eleven raw assets through
  Dagster exactly as ``greenlight sync`` does (in process, one asset after the other). The
  sandbox keeps the whole world in memory in *this* process; measuring the child alone (psutil
  sampling of its tree) is what shows whether the loader's memory grows with the data.
* **Two scales**: ``--scale`` and the sandbox scale before it (``large``: 300,000 work orders,
  measured with ``medium``: 60,000), each generated as its own world (decision 0006).
  Streaming means the peak RSS should stay flat while the data grows fivefold.
* **Incremental cost**: 1 % of every incremental entity's records changed through the sandbox
  state, then an incremental run; its API calls (the sandbox request log, token requests
  included) and time as a share of the full run's.

Results: a table on stdout and ``benchmarks/results/ingest.json``; every run records the
machine's load average, since the benchmark shares two cores with whatever else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from greenlight_dagster.sandbox.admin import clear_request_log
from greenlight_dagster.sandbox.generator import SCALES, generate_fixture
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.warehouse import migrate
from greenlight_dagster.warehouse.connection import WAREHOUSE_URL_ENV
from greenlight_dagster.warehouse.embedded import EmbeddedWarehouse
from greenlight_dagster.warehouse.tables import RAW_TABLES

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import MIB, ChildRun, Figure, Spread, print_table, run_child, write_results

#: Each incremental table and the field a change edits: one every wire format carries (the legacy SOAP
#: structs of contracts/propertyware-soap-signatures.json, PW REST, SF), so the change is a new version
#: whichever API reads it. A field the record does not have (an invented "note") is dropped by the
#: SOAP structs: the read sees no change, and 98 % of the "changes" never reached the warehouse.
CHANGED_FIELDS = {("propertyware", "portfolios"): "abbreviation", ("propertyware", "buildings"): "abbreviation",
                  ("propertyware", "units"): "abbreviation", ("propertyware", "leases"): "comments",
                  ("propertyware", "contacts"): "comments", ("propertyware", "vendors"): "comments",
                  ("propertyware", "workOrders"): "description", ("servicefusion", "customers"): "account_number",
                  ("servicefusion", "jobs"): "description"}
#: Sandbox tables the incremental entities read (job statuses and techs are always read whole).
CHANGED_TABLES = tuple(CHANGED_FIELDS)
CHANGE_SHARE = 0.01

RECORDS_PER_SECOND_TARGET = 2_000
PEAK_RSS_TARGET_MIB = 400
INCREMENTAL_CALLS_TARGET = 0.05
RSS_GROWTH_TARGET = 0.10


# ---------------------------------------------------------------- the child: one ingestion run

def child_main() -> None:
    """Materialize every raw asset once (today's partition, like the sync) and print the totals as JSON."""
    import dagster as dg
    import psutil

    from greenlight_dagster.defs.ingestion.assets import ingest, ingest_daily
    from greenlight_dagster.defs.propertyware import resources as pw_resources
    from greenlight_dagster.defs.servicefusion import resources as sf_resources
    from greenlight_dagster.lib.ingest import latest_partition_key
    from greenlight_dagster.lib.resources import WarehouseResource

    assets = [ingest, ingest_daily]
    rss_before = psutil.Process().memory_info().rss
    began = time.perf_counter()
    result = dg.materialize(assets, resources={"warehouse": WarehouseResource(), **pw_resources.resources,
                                               **sf_resources.resources},
                            instance=dg.DagsterInstance.ephemeral(), partition_key=latest_partition_key())
    seconds = time.perf_counter() - began
    totals = {"records": 0, "new_versions": 0, "api_calls": 0, "retries": 0, "rate_limit_wait_seconds": 0.0}
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        for name in totals:
            value = meta[{"records": "records_fetched"}.get(name, name)].value
            assert isinstance(value, int | float), (name, value)
            totals[name] += value
    print(json.dumps({"seconds": seconds, "rss_before_bytes": rss_before, **totals}))


# ---------------------------------------------------------------- the parent: worlds, runs, figures

@dataclass(frozen=True)
class Run:
    """One child ingestion: what it read and what it cost."""

    records: int
    new_versions: int
    client_calls: int
    client_retries: int  # faults are off: any retry is the machine (timeouts under load), worth seeing
    server_requests: int  # the sandbox request log: every HTTP request, token requests included
    seconds: float  # in-process materialization time (interpreter start-up and imports excluded)
    rate_limit_wait_seconds: float  # of `seconds`: the SF client pacing itself under 60 requests/min
    peak_rss_bytes: int
    rss_before_bytes: int
    load_average: tuple[float, float]  # 1-minute load of the machine before and after the run


@contextmanager
def embedded_warehouse() -> Iterator[tuple[str, Engine]]:
    """A migrated embedded PostgreSQL in a temporary directory, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="glbench-"))  # short: unix-socket paths are limited to ~100 bytes
    root.chmod(0o755)  # as root the server runs as the unprivileged 'pgserver' user, which must enter it
    warehouse = EmbeddedWarehouse(root)
    try:
        url = warehouse.start()
        engine = create_engine(url)
        migrate.upgrade(engine)
        yield url.render_as_string(hide_password=False), engine
        engine.dispose()
    finally:
        warehouse.stop()
        shutil.rmtree(root, ignore_errors=True)


def empty_landing_zone(engine: Engine) -> None:
    """Raw tables, error log and watermarks emptied: the next run is a first (full) load."""
    names = ", ".join(f"raw.{table.name}" for table in RAW_TABLES.values())
    with engine.begin() as conn:
        conn.execute(text(f"truncate {names}, ops.error_log, ops.watermarks restart identity"))


def ingest_once(sandbox: Sandbox, env: dict[str, str]) -> Run:
    """One child ingestion run, measured; the sandbox request log is emptied first and counted after."""
    clear_request_log(sandbox.state)
    load_before = os.getloadavg()[0]
    child: ChildRun = run_child([sys.executable, str(Path(__file__).resolve()), "--child"], env=env)
    totals = json.loads(child.stdout.strip().splitlines()[-1])
    return Run(records=totals["records"], new_versions=totals["new_versions"], client_calls=totals["api_calls"],
               client_retries=totals["retries"], server_requests=len(sandbox.state.request_log()),
               seconds=totals["seconds"], rate_limit_wait_seconds=round(totals["rate_limit_wait_seconds"], 1),
               peak_rss_bytes=child.peak_rss_bytes, rss_before_bytes=totals["rss_before_bytes"],
               load_average=(load_before, os.getloadavg()[0]))


def change_one_percent(sandbox: Sandbox, round_number: int) -> int:
    """Patch ``CHANGE_SHARE`` of each incremental table (a different slice each round); returns how many."""
    changed = 0
    for (system, table), field_name in CHANGED_FIELDS.items():
        ids = sorted(sandbox.state.table(system, table))
        if table == "contacts":  # only tenant contacts are ingested
            ids = [i for i in ids if sandbox.state.get(system, table, i).get("type") == "TENANT"]
        step = max(1, round(1 / CHANGE_SHARE))
        for record_id in ids[round_number % step::step][:max(1, round(len(ids) * CHANGE_SHARE))]:
            sandbox.state.patch(system, table, record_id, {field_name: f"changed in round {round_number}"})
            changed += 1
    return changed


@dataclass(frozen=True)
class ScaleResult:
    label: str
    full: list[Run]
    incremental: list[Run]
    changed: list[int]

    def records_per_second(self) -> Spread:
        return Spread.of([r.records / r.seconds for r in self.full])

    def records_per_second_unpaced(self) -> Spread:
        """The rate outside the SF client's rate-limit pacing: what the code costs, not the API contract."""
        return Spread.of([r.records / (r.seconds - r.rate_limit_wait_seconds) for r in self.full])

    def peak_rss_mib(self) -> Spread:
        return Spread.of([r.peak_rss_bytes / MIB for r in self.full])

    def call_share(self) -> Spread:
        full_calls = Spread.of([r.server_requests for r in self.full]).median
        return Spread.of([r.server_requests / full_calls for r in self.incremental])

    def time_share(self) -> Spread:
        full_seconds = Spread.of([r.seconds for r in self.full]).median
        return Spread.of([r.seconds / full_seconds for r in self.incremental])


def measure_scale(label: str, url: str, engine: Engine, repeat: int) -> ScaleResult:
    """``repeat`` full loads from empty, then ``repeat`` incremental runs each after a fresh 1 % change."""
    print(f"[{label}] generating the world and starting the sandbox ...", file=sys.stderr, flush=True)
    with Sandbox(generate_fixture(0, label)) as sandbox:
        env = {**sandbox.env(), WAREHOUSE_URL_ENV: url}
        full = []
        for n in range(repeat):
            empty_landing_zone(engine)
            full.append(ingest_once(sandbox, env))
            print(f"[{label}] full {n + 1}/{repeat}: {full[-1]}", file=sys.stderr, flush=True)
        incremental, changed = [], []
        for n in range(repeat):
            changed.append(change_one_percent(sandbox, n))
            incremental.append(ingest_once(sandbox, env))
            print(f"[{label}] incremental {n + 1}/{repeat}: {incremental[-1]}", file=sys.stderr, flush=True)
    return ScaleResult(label, full, incremental, changed)


def _spread(value: Spread, fmt: str) -> str:
    return f"{value.median:{fmt}} ({value.min:{fmt}}-{value.max:{fmt}})"


def figures(base: ScaleResult, bigger: ScaleResult) -> list[Figure]:
    out = []
    for result in (base, bigger):
        rate = result.records_per_second()
        out.append(Figure(f"full load records/s, {result.label} ({result.full[0].records:,} records)",
                          _spread(rate, ",.0f"), f">= {RECORDS_PER_SECOND_TARGET:,}",
                          rate.median >= RECORDS_PER_SECOND_TARGET))
    for result in (base, bigger):
        rss = result.peak_rss_mib()
        out.append(Figure(f"peak RSS of the ingestion process, {result.label}", _spread(rss, ".0f") + " MiB",
                          f"< {PEAK_RSS_TARGET_MIB} MiB", rss.max < PEAK_RSS_TARGET_MIB))
    growth = bigger.peak_rss_mib().median / base.peak_rss_mib().median - 1
    data_ratio = bigger.full[0].records / base.full[0].records
    out.append(Figure(f"peak RSS growth from {base.label} to {bigger.label} ({data_ratio:.1f}x the records)",
                      f"{growth:+.1%}", f"< {RSS_GROWTH_TARGET:.0%}", growth < RSS_GROWTH_TARGET))
    for result in (base, bigger):
        wait = Spread.of([r.rate_limit_wait_seconds for r in result.full])
        out.append(Figure(f"full load: SF rate-limit wait within the time, {result.label}", _spread(wait, ".1f") + " s",
                          "-"))
        out.append(Figure(f"full load records/s outside that wait, {result.label}",
                          _spread(result.records_per_second_unpaced(), ",.0f"), "-"))
    for result in (base, bigger):
        share = result.call_share()
        full_calls = int(Spread.of([r.server_requests for r in result.full]).median)
        incr_calls = int(Spread.of([r.server_requests for r in result.incremental]).median)
        out.append(Figure(f"incremental API calls / full, {result.label} ({incr_calls}/{full_calls})",
                          _spread(share, ".1%"), f"<= {INCREMENTAL_CALLS_TARGET:.0%}",
                          share.median <= INCREMENTAL_CALLS_TARGET))
        out.append(Figure(f"incremental time / full, {result.label}", _spread(result.time_share(), ".1%"), "-"))
        landed = [r.new_versions for r in result.incremental]
        out.append(Figure(f"incremental new versions / records changed, {result.label}",
                          f"{sum(landed)}/{sum(result.changed)}", "equal", landed == result.changed))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=list(SCALES)[1:], default="large",
                        help="the larger sandbox scale; the scale before it is measured too")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median, min, max)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main()
        return 0
    names = list(SCALES)
    smaller = names[names.index(args.scale) - 1]
    with embedded_warehouse() as (url, engine):
        base = measure_scale(smaller, url, engine, args.repeat)
        bigger = measure_scale(args.scale, url, engine, args.repeat)
    table = figures(base, bigger)
    print_table(f"Ingestion benchmark (sandbox {smaller} and {args.scale}, faults and latency off, "
                f"median (min-max) of {args.repeat}; load average {os.getloadavg()[0]:.2f})", table)
    path = write_results("ingest", table, {"scales": [smaller, args.scale], "repeat": args.repeat,
                                           "runs": {r.label: {"full": [asdict(x) for x in r.full],
                                                              "incremental": [asdict(x) for x in r.incremental],
                                                              "changed": r.changed} for r in (base, bigger)}})
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
