"""Headline benchmark: one day's sync at production latency, against the rate-limit floor.

    .venv/bin/python benchmarks/daily_sync.py [--scale demo] [--repeat 3]

What it does and why:

* **A world already in step** (untimed): an embedded PostgreSQL and a Dagster instance in a
  temporary directory, the ``demo`` sandbox, and fast-limit syncs until a run sends nothing
  more - the state a production account is in the morning before the day's first sync.
* **A realistic day's delta, made through the sandbox state as users make it**: 1,000 PW work
  orders edited, 100 new open work orders (on buildings whose SF customer exists, so each
  needs exactly one SF job), 200 SF job status changes on jobs of open work orders (each
  needs exactly one PW write: "In Progress" or a close).
* **Production latency**: every PW call delayed 300 ms by the sandbox; SF limited to 60
  requests/minute *per account* (new tokens buy nothing - the honest reading of
  docs/apis/servicefusion.md §3) and the client paced to 60/minute (``GREENLIGHT_SF_RATE_LIMIT_PER_MINUTE``).
* **One timed sync** as the schedule runs it: ``greenlight sync`` in a child process (a run
  worker is a fresh process too: interpreter, Definitions, WSDL, dbt and all).
* **The floor** is derived from first principles - the calls this delta needs at the least,
  the larger of SF calls / (60/min) and PW calls x 0.3 s (one stream per API, the two side by
  side: decision 0021) - and compared with the sandbox's request log; the run's step timings
  (Dagster event log) say where the excess went.

Repeats are further days on the same world (a fresh delta each time). `push` reads its
figures from the same runs (`DailyResult`); `warehouse` and `peer` reuse `BenchWorld`.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import stat
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import MIB, ChildRun, Figure, Spread, print_table, run_child, write_results
from greenlight_dagster.instance.environ import environment_set
from greenlight_dagster.sandbox.generator import SCALES
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.sandbox.state import SandboxState, parse_ts

# ---------------------------------------------------------------- the scenario

PW_LATENCY_MS = 300
SF_RATE_PER_MINUTE = 60
FAST_SF_RATE = 100_000  # setup: the limit out of the way (client pacing follows the same variable)
PW_PAGE_SIZE = 100  # PropertyWareResource.page_size (PW's real maximum is unverified: contracts §SOAP)
SF_PER_PAGE = 50  # docs/apis/servicefusion.md §4: per-page at most 50
RATIO_TARGET = 1.2
MAX_SETUP_SYNCS = 5

#: The flags of a real, pushing sync (the demo's: pushes on, safe-mode validation on, cap out of the way).
SYNC_FLAGS = {"GREENLIGHT_DRY_RUN": "false", "GREENLIGHT_ENABLE_SERVICE_FUSION": "true",
              "GREENLIGHT_SAFE_MODE": "true", "GREENLIGHT_SAFE_MODE_MAX_CREATES": "100000"}
RATE_LIMIT_ENV = "GREENLIGHT_SF_RATE_LIMIT_PER_MINUTE"

#: PW entities the sync reads, as sandbox tables (tenants are TENANT contacts).
PW_READS = {"portfolios": "portfolios", "buildings": "buildings", "units": "units", "leases": "leases",
            "tenants": "contacts", "vendors": "vendors", "work_orders": "workOrders"}
#: SF reads that cannot be windowed (read whole every run): one page each at this size.
SF_WHOLE_READS = ("/job-statuses", "/techs", "/job-categories")


@dataclass(frozen=True)
class DayDelta:
    """How much one benchmark day changes."""

    changed_work_orders: int = 1_000
    new_open_work_orders: int = 100
    sf_status_changes: int = 200

    @classmethod
    def for_scale(cls, scale: str) -> DayDelta:
        """The issue's day is for ``demo``; a ``small`` world (150 work orders) gets a day scaled to it."""
        return cls(50, 5, 10) if scale == "small" else cls()


# ---------------------------------------------------------------- the world

def traversable_tempdir(prefix: str) -> Path:
    """A temp dir the embedded server's unprivileged user can reach (it runs as ``pgserver`` under root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))  # short: unix-socket paths are limited to ~100 bytes
    path.chmod(path.stat().st_mode | stat.S_IRWXU | stat.S_IROTH | stat.S_IXOTH | stat.S_IRGRP | stat.S_IXGRP)
    return path


@dataclass
class SyncRun:
    """One ``greenlight sync`` child: what it cost and what the run recorded."""

    label: str
    seconds: float
    peak_rss_bytes: int
    run_id: str
    success: bool
    run_seconds: float  # RUN_START -> RUN_SUCCESS/FAILURE in the event log
    steps: dict[str, float]  # step key -> seconds
    metadata: dict[str, dict[str, Any]]  # asset key -> scalar metadata
    requests: list[dict[str, Any]] = field(default_factory=list)

    def sent(self) -> int:
        return sum(int(m.get("sent", 0) or 0) for key, m in self.metadata.items() if key.startswith("push/"))

    def asset_seconds(self, asset: str) -> float:
        """How long one asset's own work took (its ``duration_seconds``): steps hold several assets, side by side."""
        return float(self.metadata.get(asset, {}).get("duration_seconds", 0.0))


class BenchWorld:
    """Warehouse + Dagster instance + sandbox in one temporary directory; everything stopped on exit.

    The sandbox runs in this process, every sync in a child (`run_child`), so a sync's memory
    and CPU are its own and it meets the sandbox over real sockets as it meets PW and SF.
    """

    def __init__(self, *, scale: str = "demo", seed: int = 0) -> None:
        self.scale = scale
        self.seed = seed
        self.root = traversable_tempdir("glb-")
        self.sandbox: Sandbox | None = None
        self.env: dict[str, str] = {}
        self._stop_warehouse: Any = None
        self.last_sync_mark = ""  # sandbox clock when the latest sync started: its reads saw everything before
        self._environ = ExitStack()  # the environment this world set, restored when it closes

    def __enter__(self) -> BenchWorld:
        from greenlight_dagster.instance.home import prepare_dagster_env
        from greenlight_dagster.warehouse.connection import DAGSTER_STORAGE_URL_ENV, WAREHOUSE_URL_ENV, warehouse_url

        self._environ.enter_context(environment_set({"GREENLIGHT_DATA_DIR": str(self.root)},
                                                    drop=(WAREHOUSE_URL_ENV, DAGSTER_STORAGE_URL_ENV, "DAGSTER_HOME")))
        warehouse_url.cache_clear()  # a previous world in this process cached its own server's URL
        try:
            env, self._stop_warehouse = prepare_dagster_env()
            # this process reads the Dagster instance (run records) too
            self._environ.enter_context(environment_set(env))
            self.env = {**env, **SYNC_FLAGS}
            self.sandbox = Sandbox(seed=self.seed, scale=self.scale,
                                   sf_options={"rate_limit_per_minute": FAST_SF_RATE}).start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        from greenlight_dagster.warehouse.connection import warehouse_url

        if self.sandbox is not None:
            self.sandbox.stop()
        if self._stop_warehouse is not None:
            self._stop_warehouse()
        warehouse_url.cache_clear()
        self._environ.close()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def state(self) -> SandboxState:
        assert self.sandbox is not None
        return self.sandbox.state

    def restart_sandbox(self, *, sf_rate: int, account_scope: bool) -> None:
        """The same world (state snapshot) behind new servers with another SF limit; request log emptied."""
        assert self.sandbox is not None
        snapshot = self.state.snapshot()
        self.sandbox.stop()
        options: dict[str, Any] = {"rate_limit_per_minute": sf_rate}
        if account_scope:
            options["rate_limit_scope"] = "account"
        self.sandbox = Sandbox(snapshot, sf_options=options).start()

    def sync(self, label: str, *, sf_rate: int) -> SyncRun:
        """One ``greenlight sync`` in a child process; its run read back from the Dagster instance."""
        assert self.sandbox is not None
        since = len(self.state.requests)
        self.last_sync_mark = self.state.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        env = {**self.env, **self.sandbox.env(), RATE_LIMIT_ENV: str(sf_rate)}
        child: ChildRun = run_child([sys.executable, "-m", "greenlight_dagster.cli", "sync"], env=env)
        run = read_latest_run(label, child)
        run.requests = self.state.request_log(since)
        return run

    def settle(self, log: Any = print) -> list[SyncRun]:
        """Fast-limit syncs until one sends nothing (the world is in step), at most `MAX_SETUP_SYNCS`."""
        runs = []
        for n in range(MAX_SETUP_SYNCS):
            runs.append(self.sync(f"setup {n + 1}", sf_rate=FAST_SF_RATE))
            log(f"  setup sync {n + 1}: {runs[-1].seconds:.0f} s, sent {runs[-1].sent()}")
            if runs[-1].sent() == 0:
                break
        return runs


def read_latest_run(label: str, child: ChildRun) -> SyncRun:
    """The newest run on the instance: step durations and each asset's scalar metadata."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    with dg.DagsterInstance.get() as instance:
        record = instance.get_run_records(limit=1)[0]
        run_id = record.dagster_run.run_id
        starts: dict[str, float] = {}
        steps: dict[str, float] = {}
        metadata: dict[str, dict[str, Any]] = {}
        run_start = run_end = 0.0
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind = event.event_type
            if kind == DagsterEventType.RUN_START:
                run_start = entry.timestamp
            elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
                run_end = entry.timestamp
            elif kind == DagsterEventType.STEP_START and event.step_key:
                starts[event.step_key] = entry.timestamp
            elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) and event.step_key:
                steps[event.step_key] = entry.timestamp - starts.get(event.step_key, entry.timestamp)
            elif kind == DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.step_materialization_data.materialization
                metadata[materialization.asset_key.to_user_string()] = {
                    k: v.value for k, v in materialization.metadata.items()
                    if isinstance(v.value, (int, float, str, bool))}
        success = record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    return SyncRun(label, child.seconds, child.peak_rss_bytes, run_id, success, run_end - run_start, steps, metadata)


# ---------------------------------------------------------------- the delta

def stamped_jobs(state: SandboxState) -> dict[int, dict[str, Any]]:
    """SF jobs carrying a PW work-order stamp, by work order id (the first one when several)."""
    from greenlight_dagster.core.dedup import stamped_work_order_ids

    jobs: dict[int, dict[str, Any]] = {}
    for job in state.table("servicefusion", "jobs").values():
        for work_order_id in stamped_work_order_ids(job):
            jobs.setdefault(work_order_id, job)
    return jobs


@dataclass(frozen=True)
class AppliedDelta:
    """What a day changed, and the PW writes it needs by construction."""

    changed_work_orders: int
    new_open_work_orders: int
    sf_status_changes: int
    pw_writes_needed: int  # status changes on jobs of open, unclosed work orders: one write each
    clock_before: str

    def describe(self) -> str:
        return (f"{self.changed_work_orders} PW edits, {self.new_open_work_orders} new open work orders, "
                f"{self.sf_status_changes} SF status changes ({self.pw_writes_needed} needing a PW write)")


def planted_work_orders(state: SandboxState) -> set[int]:
    """Work orders carrying a planted data problem (generator ``_planted``): never templates for new ones."""
    planted = state.extra.get("_planted") or {}
    return {int(entry[key]) for entries in planted.values() if isinstance(entries, list) for entry in entries
            if isinstance(entry, dict) for key in ("workOrderID", "duplicateOf") if key in entry}


def apply_day(state: SandboxState, delta: DayDelta, day: int) -> AppliedDelta:
    """Make one day's changes as users would: PW edits, new work orders, SF job progress."""
    from greenlight_dagster.core.statuses import DEFAULT_PW_TERMINAL, in_open_list

    rng = random.Random(f"bench-day-{day}")
    clock_before = state.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    work_orders = state.table("propertyware", "workOrders")
    planted = planted_work_orders(state)
    by_wo = stamped_jobs(state)
    terminal = {s.lower() for s in DEFAULT_PW_TERMINAL}

    # 200 SF status changes, each needing exactly one PW write: Started -> "In Progress", else Completed -> close.
    progressable = sorted(wo_id for wo_id, job in by_wo.items()
                          if wo_id in work_orders and str(work_orders[wo_id].get("status", "")).lower() not in terminal
                          and in_open_list(str(job.get("status", ""))))
    chosen_jobs = rng.sample(progressable, min(delta.sf_status_changes, len(progressable)))
    for wo_id in chosen_jobs:
        in_progress = str(work_orders[wo_id].get("status", "")).lower() == "in progress"
        state.patch("servicefusion", "jobs", int(by_wo[wo_id]["id"]), {"status": "Completed" if in_progress
                                                                       else "Started"})
    # The rest (when fewer jobs of open work orders exist): progress that needs no PW write - jobs of
    # closed work orders first, then the service company's other jobs.
    chosen_job_ids = {int(by_wo[wo_id]["id"]) for wo_id in chosen_jobs}
    linked = {int(job["id"]) for job in by_wo.values()}
    others = sorted(set(by_wo[wo_id]["id"] for wo_id in by_wo) - chosen_job_ids)
    others += sorted(set(state.table("servicefusion", "jobs")) - linked)
    for job_id in others[:max(0, delta.sf_status_changes - len(chosen_jobs))]:
        state.patch("servicefusion", "jobs", int(job_id), {"status": "Paid In Full"})

    # 1,000 edits of existing work orders (priority: no SF write follows, as for most edits in a day).
    editable = sorted(set(work_orders) - set(chosen_jobs))
    priorities = ("HIGH", "MEDIUM", "LOW")
    for wo_id in rng.sample(editable, delta.changed_work_orders):
        current = work_orders[wo_id].get("priority")
        state.patch("propertyware", "workOrders", wo_id,
                    {"priority": priorities[(priorities.index(current) + 1) % 3 if current in priorities else 0]})

    # 100 new open work orders, cloned from work orders that already have a job (their customer exists).
    templates = sorted(wo_id for wo_id in by_wo if wo_id in work_orders and wo_id not in planted)
    number = max(int(wo.get("number", 0)) for wo in work_orders.values())
    for n in range(delta.new_open_work_orders):
        template = dict(work_orders[rng.choice(templates)])
        for key in ("id", "createdDateTime", "completedDate", "assignedVendors", "lastModifiedDateTime"):
            template.pop(key, None)
        number += 1
        request = f"{rng.choice(NEW_REQUESTS)} (ref {rng.randrange(10**6)})"
        template.update(number=number, status="Open", description=f"Day {day} request {n + 1}: {request}")
        state.upsert("propertyware", "workOrders", template)
    return AppliedDelta(delta.changed_work_orders, delta.new_open_work_orders,
                        delta.sf_status_changes, len(chosen_jobs), clock_before)


NEW_REQUESTS = ("Garbage disposal jammed", "Front door lock sticking", "Ceiling fan wobbling",
                "Water stain on bedroom ceiling", "Dryer vent needs cleaning", "Window screen torn",
                "Dishwasher not draining", "Bathroom exhaust fan noisy", "Gate latch broken")


# ---------------------------------------------------------------- the floor

@dataclass(frozen=True)
class Floor:
    """The fewest calls the delta needs, and the time they take at the allowed rates."""

    pw_reads: dict[str, int]
    pw_writes: int
    sf_reads: dict[str, int]
    sf_creates: int

    @property
    def pw_calls(self) -> int:
        return sum(self.pw_reads.values()) + self.pw_writes

    @property
    def sf_calls(self) -> int:
        return sum(self.sf_reads.values()) + self.sf_creates

    @property
    def sf_seconds(self) -> float:
        return self.sf_calls / SF_RATE_PER_MINUTE * 60

    @property
    def pw_seconds(self) -> float:
        return self.pw_calls * PW_LATENCY_MS / 1000

    @property
    def seconds(self) -> float:
        """The binding API's own floor: the sync talks to PW and SF side by side (decision 0021)."""
        return max(self.sf_seconds, self.pw_seconds)


def changed_since(state: SandboxState, system: str, table: str, mark: str, field_name: str) -> int:
    """Records of a sandbox table modified at or after ``mark`` (what an incremental read must fetch)."""
    since = parse_ts(mark)
    return sum(1 for r in state.table(system, table).values()
               if r.get(field_name) and parse_ts(str(r[field_name])) >= since
               and (table != "contacts" or r.get("type") == "TENANT"))


def derive_floor(state: SandboxState, mark: str, delta: AppliedDelta) -> Floor:
    """First principles: pages of what changed since the last sync started, the whole reads, the writes.

    PW: one WSDL fetch (a run worker is a fresh process), per entity ceil(changed/page) pages
    but at least one (an empty answer is how "nothing changed" is learnt), one write per
    status change that needs one. SF: pages of changed jobs and customers (newest first: at
    least one page), one page of each whole-read reference list, one create per new work order.
    The OAuth token request is not rate-limited and costs no PW latency, so it is left out.
    """
    pw_reads = {"wsdl": 1}
    for entity, table in PW_READS.items():
        changed = changed_since(state, "propertyware", table, mark, "lastModifiedDateTime")
        pw_reads[entity] = max(1, math.ceil(changed / PW_PAGE_SIZE))
    sf_reads = {}
    for entity in ("jobs", "customers"):
        changed = changed_since(state, "servicefusion", entity, mark, "updated_at")
        sf_reads[f"/{entity}"] = max(1, math.ceil(changed / SF_PER_PAGE))
    sf_reads.update({path: 1 for path in SF_WHOLE_READS})
    return Floor(pw_reads, delta.pw_writes_needed, sf_reads, delta.new_open_work_orders)


# ---------------------------------------------------------------- the measurement

def summarize_requests(requests: list[dict[str, Any]]) -> dict[str, int]:
    """Request log counted as ``server METHOD operation status``."""
    counts = Counter(f"{r['server']} {r['method']} {r['operation']} {r['status']}" for r in requests)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass
class DayRun:
    """One timed day: the delta, its floor and the sync that served it."""

    delta: AppliedDelta
    floor: Floor
    run: SyncRun

    @property
    def ratio(self) -> float:
        return self.run.seconds / self.floor.seconds

    def actual_calls(self) -> dict[str, int]:
        pw = [r for r in self.run.requests if r["server"] == "pw"]
        sf = [r for r in self.run.requests if r["server"] == "sf" and r["operation"] != "/oauth/access_token"]
        return {"pw": len(pw), "sf": len(sf), "sf_429": sum(1 for r in sf if r["status"] == 429)}


@dataclass
class DailyResult:
    """Everything the headline (and `push`) report: the setup, the timed days, the load."""

    scale: str
    setup: list[SyncRun]
    days: list[DayRun]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    duplicates: int  # PW work orders with more than one stamped SF job, in the sandbox after the last day

    def wall(self) -> Spread:
        return Spread.of([d.run.seconds for d in self.days])

    def ratio(self) -> Spread:
        return Spread.of([d.ratio for d in self.days])


def count_duplicate_jobs(state: SandboxState) -> int:
    """Work orders with two or more SF jobs stamped with their id: the invariant says zero, ever."""
    from greenlight_dagster.core.dedup import stamped_work_order_ids

    per_wo: Counter[int] = Counter()
    for job in state.table("servicefusion", "jobs").values():
        per_wo.update(set(stamped_work_order_ids(job)))
    return sum(1 for n in per_wo.values() if n > 1)


def run(*, scale: str = "demo", repeat: int = 3, delta: DayDelta | None = None,
        budget_seconds: float = 15 * 60, log: Any = print) -> DailyResult:
    """Set up the world, then ``repeat`` timed days (one only if a day takes longer than ``budget_seconds``)."""
    delta = delta or DayDelta.for_scale(scale)
    load_before = os.getloadavg()
    with BenchWorld(scale=scale) as world:
        log(f"daily sync: settling a {scale} world with fast limits (untimed) ...")
        setup = world.settle(log)
        days: list[DayRun] = []
        for day in range(1, repeat + 1):
            # what changed since the last sync started (its own writes included) is what this one must read
            applied = apply_day(world.state, delta, day)
            floor = derive_floor(world.state, world.last_sync_mark, applied)
            world.restart_sandbox(sf_rate=SF_RATE_PER_MINUTE, account_scope=True)
            world.state.faults.add({"server": "pw", "operation": "*", "kind": "latency", "rate": 1.0,
                                    "ms": PW_LATENCY_MS})
            log(f"daily sync: day {day}: {applied.describe()}; floor {floor.seconds:.0f} s; timed sync ...")
            sync_run = world.sync(f"day {day}", sf_rate=SF_RATE_PER_MINUTE)
            days.append(DayRun(applied, floor, sync_run))
            log(f"daily sync: day {day}: {sync_run.seconds:.0f} s (x{days[-1].ratio:.2f} the floor), "
                f"success={sync_run.success}")
            world.state.faults.clear()
            world.restart_sandbox(sf_rate=FAST_SF_RATE, account_scope=False)
            if sync_run.seconds > budget_seconds:
                log(f"daily sync: a day took over {budget_seconds / 60:.0f} minutes: no further repeats")
                break
        duplicates = count_duplicate_jobs(world.state)
    return DailyResult(scale, setup, days, load_before, os.getloadavg(), duplicates)


# ---------------------------------------------------------------- the report

def floor_by_step(floor: Floor) -> dict[str, float]:
    """The floor's seconds attributed to the steps that make those calls (the rest of a step is excess).

    A step that talks to both APIs side by side is owed the larger of its two lanes' shares."""
    pw = PW_LATENCY_MS / 1000
    per_sf = 60 / SF_RATE_PER_MINUTE
    reference_pw = sum(pages for entity, pages in floor.pw_reads.items() if entity != "work_orders") * pw
    reference_sf = sum(floor.sf_reads[path] for path in ("/customers", "/job-statuses", "/techs")) * per_sf
    return {
        "ingest": max(reference_pw, reference_sf),
        "ingest_daily": max(floor.pw_reads["work_orders"] * pw, floor.sf_reads["/jobs"] * per_sf),
        "reconcile__push_plan": floor.sf_reads["/job-categories"] * per_sf,
        "send_push_plan": max(floor.sf_creates * per_sf, floor.pw_writes * pw),
    }


def excess_by_step(day: DayRun) -> list[tuple[str, float, float]]:
    """(step, seconds, seconds over its floor share), largest excess first; time outside steps included."""
    shares = floor_by_step(day.floor)
    rows = [(step, seconds, seconds - shares.get(step, 0.0)) for step, seconds in day.run.steps.items()]
    rows.append(("(process start, Definitions load, run set-up)", day.run.seconds - sum(day.run.steps.values()),
                 day.run.seconds - sum(day.run.steps.values())))
    return sorted(rows, key=lambda row: -row[2])


def _spread(value: Spread, fmt: str, unit: str = "") -> str:
    if len(value.runs) == 1:
        return f"{value.median:{fmt}}{unit} (1 run)"
    return f"{value.median:{fmt}}{unit} ({value.min:{fmt}}-{value.max:{fmt}}, n={len(value.runs)})"


def median_day(result: DailyResult) -> DayRun:
    """The day whose wall time is the median (the one whose breakdown is shown)."""
    ordered = sorted(result.days, key=lambda d: d.run.seconds)
    return ordered[(len(ordered) - 1) // 2]


def figures(result: DailyResult) -> list[Figure]:
    """The headline rows of the table."""
    if not result.days:
        return [Figure("daily sync at production latency", "no timed run", f"<= {RATIO_TARGET} x floor", False)]
    day = median_day(result)
    floor = day.floor
    calls = Spread.of([d.actual_calls()["sf"] for d in result.days]), Spread.of(
        [d.actual_calls()["pw"] for d in result.days])
    dbt = Spread.of([d.run.steps.get("dbt_warehouse", 0.0) for d in result.days])
    dbt_share = Spread.of([d.run.steps.get("dbt_warehouse", 0.0) / d.run.seconds for d in result.days])
    failed = [d.run.label for d in result.days if not d.run.success]
    out = [
        Figure(f"daily sync wall time ({result.scale}; PW 300 ms/call, SF 60 req/min)",
               _spread(result.wall(), ".0f", " s"), f"<= {RATIO_TARGET * floor.seconds:.0f} s",
               result.ratio().median <= RATIO_TARGET and not failed),
        Figure(f"  rate-limit floor: the larger of SF {floor.sf_calls} calls / 60 per min ({floor.sf_seconds:.0f} s) "
               f"and PW {floor.pw_calls} calls x 0.3 s ({floor.pw_seconds:.0f} s)", f"{floor.seconds:.0f} s", "-"),
        Figure("  wall time / floor", _spread(result.ratio(), ".2f"), f"<= {RATIO_TARGET}",
               result.ratio().median <= RATIO_TARGET),
        Figure(f"  SF calls made (floor {floor.sf_calls}; token requests excluded)", _spread(calls[0], ".0f"), "-"),
        Figure(f"  PW calls made (floor {floor.pw_calls})", _spread(calls[1], ".0f"), "-"),
        Figure("  dbt build inside the sync (share of wall)",
               f"{_spread(dbt, '.0f', ' s')}; {dbt_share.median:.0%}", "-"),
    ]
    for step, seconds, excess in excess_by_step(day)[:4]:
        out.append(Figure(f"  excess: {step}", f"{seconds:.0f} s (+{excess:.0f} s over its floor)", "-"))
    out.append(Figure("  peak RSS of the sync process tree",
                      _spread(Spread.of([d.run.peak_rss_bytes / MIB for d in result.days]), ".0f", " MiB"), "-"))
    if failed:
        out.append(Figure("  failed timed runs", ", ".join(failed), "none", False))
    return out


def details(result: DailyResult) -> dict[str, Any]:
    """The raw measurements behind the figures (results/daily_sync.json)."""
    return {
        "scale": result.scale, "load_before": result.load_before, "load_after": result.load_after,
        "setup": [{"label": r.label, "seconds": r.seconds, "sent": r.sent(), "steps": r.steps} for r in result.setup],
        "days": [{"delta": asdict(d.delta), "floor": {**asdict(d.floor), "seconds": d.floor.seconds,
                                                     "pw_calls": d.floor.pw_calls, "sf_calls": d.floor.sf_calls},
                  "seconds": d.run.seconds, "run_seconds": d.run.run_seconds, "ratio": d.ratio,
                  "run_id": d.run.run_id, "success": d.run.success, "peak_rss_bytes": d.run.peak_rss_bytes,
                  "steps": d.run.steps, "excess_by_step": excess_by_step(d), "metadata": d.run.metadata,
                  "requests": summarize_requests(d.run.requests)} for d in result.days],
        "duplicates": result.duplicates,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="demo")
    parser.add_argument("--repeat", type=int, default=3, help="timed days (median, min, max)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    result = run(scale=args.scale, repeat=args.repeat)
    table = figures(result)
    print_table(f"Daily sync at production latency ({args.scale}, load {result.load_before[0]:.1f} -> "
                f"{result.load_after[0]:.1f}, {time.monotonic() - began:.0f} s in all)", table)
    print(f"written to {write_results('daily_sync', table, details(result))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
