"""Load: a big sandbox world synced twice (full, then incremental) while the Dagster UI is queried every second.

What must hold under that load: the warehouse agrees with the sandbox (per entity, the raw
layer's current records = the sandbox's records), no version is landed twice, no SF job is
created twice, every UI query answers, and memory stays bounded - the peak RSS of the run's
process (and of its dbt children) and of the webserver (and its code server) are reported.

The syncs run as separate processes on the same PostgreSQL-backed instance the webserver
reads (``sync_process --persistent``), as a deployment's run workers do; the webserver is
``dagster-webserver`` on the project's code location, queried through ``/graphql`` with what
the UI's run list and asset catalog ask (``runsOrError``, ``assetNodes``).

Scale: ``GREENLIGHT_LOAD_SCALE`` (default ``medium``, 60,000 work orders; ``large`` is
300,000, see docs/decisions/0006-sandbox-scales.md).

The world: ``GREENLIGHT_LOAD_WORLD`` ``migrated`` (default) is the generated world as an account
has it after a migration's customer import (`migrated_account`): SF already holds a customer,
stamped with its PW id, for every portfolio and lease tenant; the jobs are as generated, so the
first sync still creates a job for each open work order SF lacks (~2,800 at medium, ~14,000 at
large) and the incremental one works through 1 % of the work orders changed. That is the
steady state the scenario is about (UI load, memory, consistency over repeated syncs), not the
one-off tenant import. ``fresh`` is the generated world itself: its first sync creates every
tenant as an SF customer (~9,350 at medium, ~44,800 at large). Measured before decision 0008, a
fresh medium full cycle took 47 minutes on the shared 2-core machine (load 8-12), 34 of them
customer creates at ~5/s (a name search before each create made the sandbox rebuild its sorted
customer list every time); after it, a fresh medium first sync (the ``sync`` job alone, load
~2-2.5) took 418 s: 9,353 customer creates in 313 s, 2,828 job creates in 47 s. At ``large`` the
sandbox's own create cost grows with its tables (a customer create 11 ms at 49,000 customers),
so a fresh large first sync is ~45 minutes of this machine; the migrated one took 13 (the row).
The sandbox's SF rate limit is raised (``LOAD_SF_RATE_LIMIT``) in both: the scenario tests load,
not SF's 60 calls a minute.
It runs in ``make reliability`` only; ``make test`` checks the same sync at the small scale in e2e/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.core.payloads import CUSTOMER_ID_FIELDS
from greenlight_dagster.instance.home import project_root
from greenlight_dagster.sandbox.generator import generate_fixture
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.sandbox.state import format_ts, parse_ts
from greenlight_dagster.warehouse.connection import DAGSTER_STORAGE_URL_ENV
from greenlight_dagster.warehouse.tables import RAW_ENTITIES, raw_table_name
from greenlight_dagster_tests.reliability.harness import (
    SEED,
    SF_RATE_LIMIT,
    duplicate_jobs,
    instance_home,
    isolated_database,
    kill_group,
    sandbox_env,
    warehouse_in_force,
)
from greenlight_dagster_tests.reliability.report import ReliabilityReport, measured

pytestmark = pytest.mark.integration

SCALE = os.environ.get("GREENLIGHT_LOAD_SCALE", "medium")
#: ``migrated`` (SF holds the customers already, `migrated_account`) or ``fresh`` (the generated world).
WORLD = os.environ.get("GREENLIGHT_LOAD_WORLD", "migrated")
#: The sandbox's SF limit for this scenario: pushes are paced by the machine, not by the limit.
LOAD_SF_RATE_LIMIT = SF_RATE_LIMIT * 10
CHANGED_SHARE = 0.01
#: Peak RSS bounds (MiB): a sync that holds a whole entity in memory would pass them at `large`.
RUN_RSS_LIMIT_MIB = 1024
WEBSERVER_RSS_LIMIT_MIB = 1024
UI_QUERY = """
query LoadProbe {
  runsOrError(limit: 20) { __typename ... on Runs { results { runId status } } }
  assetNodes { id assetKey { path } }
}
"""
#: Raw table -> (sandbox system, entity, filter): the records the source serves for that table.
TENANT = ("type", "TENANT")
SANDBOX_ENTITY = {"pw_work_orders": ("propertyware", "workOrders"), "pw_tenants": ("propertyware", "contacts")}


# ---------------------------------------------------------------- the world

def migrated_account(fixture: dict[str, Any]) -> dict[str, Any]:
    """``fixture`` as the account looks after a migration's customer import: SF holds a customer stamped
    with the PW id for every portfolio (the SF customer the generator matched to it, or a new one) and
    every lease tenant (a child of its portfolio's customer, as our creates make them). Jobs stay as
    generated, so the first sync still creates the jobs of the open work orders SF lacks.

    Why (module docstring): a fresh generated world makes the first sync create every tenant, which
    at ``large`` is ~45,000 customer creates - hours on this machine, none of it what the scenario
    measures. The generator is untouched (its worlds stay byte-for-byte the same); this copy is the
    load scenario's own. Changes ``fixture`` in place and returns it.
    """
    pw, sf = fixture["propertyware"], fixture["servicefusion"]
    customers: list[dict[str, Any]] = sf["customers"]
    by_id = {c["id"]: c for c in customers}
    imported = format_ts(parse_ts(fixture["clock"]) - timedelta(days=30))
    next_id = max(by_id, default=7000) + 1

    def stamp(kind: str, pw_id: int) -> dict[str, Any]:
        return {"name": CUSTOMER_ID_FIELDS[kind], "value": str(pw_id), "type": "text", "group": None,
                "is_required": False}

    def add(name: str, parent: str | None, custom_field: dict[str, Any]) -> None:
        nonlocal next_id
        customers.append({"id": next_id, "customer_name": name, "fully_qualified_name": f"{parent}:{name}" if parent
                          else name, "parent_customer": parent, "account_number": f"M{next_id}", "contacts": [],
                          "locations": [], "custom_fields": [custom_field], "created_at": imported,
                          "updated_at": imported})
        next_id += 1

    matched = {m["pwID"]: by_id[m["sfCustomerID"]] for m in fixture["_planted"]["sf_customer_matches"]
               if m["pwEntity"] == "portfolios"}
    parent_of: dict[int, str] = {}
    for portfolio in pw["portfolios"]:
        if (existing := matched.get(portfolio["id"])) is not None:
            existing.setdefault("custom_fields", []).append(stamp("portfolio", portfolio["id"]))
            existing["updated_at"] = max(str(existing.get("updated_at") or ""), imported)
            parent_of[portfolio["id"]] = existing["customer_name"]
        else:
            add(portfolio["name"], None, stamp("portfolio", portfolio["id"]))
            parent_of[portfolio["id"]] = portfolio["name"]
    portfolio_of: dict[int, int] = {}
    for lease in sorted(pw["leases"], key=lambda lease: str(lease.get("startDate") or "")):  # the latest lease wins
        for tenant_id in lease.get("tenantIDs") or ():
            portfolio_of[tenant_id] = lease["portfolioID"]
    for contact in pw["contacts"]:
        if contact.get("type") == "TENANT" and contact["id"] in portfolio_of:
            name = contact.get("company") or f"{contact.get('firstName', '')} {contact.get('lastName', '')}".strip()
            add(name, parent_of[portfolio_of[contact["id"]]], stamp("tenant", contact["id"]))
    return fixture


# ---------------------------------------------------------------- measuring

@contextmanager
def every(seconds: float, tick: Callable[[], bool]) -> Iterator[None]:
    """Call ``tick`` every ``seconds`` from a thread while the block runs (until it returns False)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            began = time.monotonic()
            if not tick():
                return
            stop.wait(max(0.0, seconds - (time.monotonic() - began)))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=70)


@dataclass
class PeakRss:
    """Peak resident memory of a process and of it with its descendants, in bytes (`sample` via `every`)."""

    pid: int
    own: int = 0
    tree: int = 0

    def sample(self) -> bool:
        """One sample; False once the process is gone."""
        try:
            proc = psutil.Process(self.pid)
            own = proc.memory_info().rss
            tree = own + sum(_rss(child) for child in proc.children(recursive=True))
        except psutil.Error:
            return False
        self.own, self.tree = max(self.own, own), max(self.tree, tree)
        return True


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0


def mib(n: int) -> float:
    return n / 2**20


@dataclass
class UiProbe:
    """What the UI asks the webserver's GraphQL endpoint (`poll` via `every`): answers, errors, latencies."""

    url: str
    answered: int = 0
    failed: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def query(self) -> dict[str, Any]:
        reply = requests.post(self.url, json={"query": UI_QUERY}, timeout=60)
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        if body.get("errors"):
            raise RuntimeError(str(body["errors"])[:300])
        return body["data"]

    def poll(self) -> bool:
        began = time.monotonic()
        try:
            data = self.query()
            if data["runsOrError"]["__typename"] != "Runs" or not data["assetNodes"]:
                raise RuntimeError(f"unexpected answer {str(data)[:200]}")
            self.answered += 1
        except (requests.RequestException, RuntimeError, KeyError, ValueError) as exc:
            self.failed.append(f"{type(exc).__name__}: {exc}"[:300])
        self.latencies.append(time.monotonic() - began)
        return True

    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0


# ---------------------------------------------------------------- the processes

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def webserver(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``dagster-webserver`` on the project's location, 127.0.0.1, until it answers; killed as a group on exit."""
    port = _free_port()
    cmd = [str(Path(sys.executable).with_name("dagster-webserver")), "-h", "127.0.0.1", "-p", str(port),
           "-m", "greenlight_dagster.definitions"]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=project_root(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                requests.get(f"{base}/server_info", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(1)
        else:
            raise AssertionError(f"the webserver never answered: {log.read_text(errors='replace')[-2000:]}")
        yield proc, f"{base}/graphql"
    finally:
        kill_group(proc)


@dataclass(frozen=True)
class LoadCycle:
    kind: str
    ok: bool
    seconds: float
    run_rss: int
    run_tree_rss: int


def sync_cycle(kind: str, env: dict[str, str], log: Path) -> LoadCycle:
    """One sync as its own process on the webserver's instance, its peak memory sampled."""
    began = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "greenlight_dagster_tests.reliability.sync_process",
                                 "--persistent"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    peak = PeakRss(proc.pid)
    try:
        with every(0.5, peak.sample):
            code = proc.wait(timeout=3600)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    return LoadCycle(kind, code == 0, time.monotonic() - began, peak.own, peak.tree)


# ---------------------------------------------------------------- consistency

def sandbox_count(snapshot: dict[str, Any], source: str, entity: str) -> int:
    system, name = SANDBOX_ENTITY.get(raw_table_name(source, entity),
                                      ("propertyware" if source == "pw" else "servicefusion", entity))
    records = snapshot[system][name]
    if raw_table_name(source, entity) == "pw_tenants":
        return sum(1 for r in records if str(r.get(TENANT[0], "")).upper() == TENANT[1])
    return len(records)


def consistency(engine: Engine, sandbox: Sandbox) -> tuple[dict[str, tuple[int, int]], int]:
    """Per raw table (warehouse current records, sandbox records), and versions landed twice."""
    snapshot = sandbox.state.snapshot()
    counts: dict[str, tuple[int, int]] = {}
    twice = 0
    with engine.connect() as conn:
        for source, entity in RAW_ENTITIES:
            table = f'raw."{raw_table_name(source, entity)}"'
            current = conn.execute(text(
                f"select count(*) from (select distinct on (source_id) _is_deleted from {table}"
                " order by source_id, _version_id desc) latest where not _is_deleted")).scalar_one()
            twice += conn.execute(text(
                f"select count(*) - count(distinct (source_id, _source_hash)) from {table}")).scalar_one()
            counts[raw_table_name(source, entity)] = (int(current), sandbox_count(snapshot, source, entity))
    return counts, int(twice)


def sf_creates(sandbox: Sandbox, since: int) -> Counter[str]:
    """SF creates the sandbox accepted since request ``since``, by path (``/customers``, ``/jobs``)."""
    return Counter(r["operation"] for r in sandbox.state.request_log(since)
                   if r["server"] == "sf" and r["method"] == "POST" and r["status"] < 300
                   and r["operation"] in ("/customers", "/jobs"))


def change_work_orders(sandbox: Sandbox, share: float) -> int:
    """What a day of property managers does: reword ``share`` of the work orders (spread over all ids)."""
    ids = [wo["id"] for wo in sandbox.state.snapshot()["propertyware"]["workOrders"]]
    step = max(1, int(1 / share))
    for n, wo_id in enumerate(ids[::step]):
        sandbox.state.patch("propertyware", "workOrders", wo_id, {"description": f"load test change {n}"})
    return len(ids[::step])


# ---------------------------------------------------------------- the scenario

@pytest.mark.reliability
@pytest.mark.timeout(5400)
def test_big_world_synced_twice_while_the_ui_is_queried(warehouse_url: URL, tmp_path: Path,
                                                        reliability_report: ReliabilityReport) -> None:
    load_scenario(warehouse_url, tmp_path, reliability_report, SCALE, WORLD)


def load_world(scale: str, world: str = "migrated") -> dict[str, Any]:
    """The scenario's sandbox fixture: the generated ``scale`` world, ``migrated`` or ``fresh`` (module docstring)."""
    if world not in ("migrated", "fresh"):
        raise ValueError(f"GREENLIGHT_LOAD_WORLD must be migrated or fresh, not {world!r}")
    fixture = generate_fixture(SEED, scale)
    return migrated_account(fixture) if world == "migrated" else fixture


def describe_world(fixture: dict[str, Any], scale: str, world: str) -> str:
    """The row's *load* column: what was synced."""
    work_orders, customers = (len(fixture["propertyware"]["workOrders"]), len(fixture["servicefusion"]["customers"]))
    account = ("a migrated account: SF already holds a stamped customer per portfolio and tenant"
               if world == "migrated" else "fresh: the first sync creates the missing customers")
    return (f"{scale} world ({work_orders:,} work orders, {customers:,} SF customers; {account}), full + incremental "
            f"sync in their own processes, sandbox SF limit {LOAD_SF_RATE_LIMIT:,}/min")


def load_scenario(warehouse_url: URL, tmp_path: Path, reliability_report: ReliabilityReport, scale: str,
                  world: str = "migrated") -> None:
    """Sync a ``scale`` world twice under UI queries; record and check the figures (module docstring)."""
    log = tmp_path / "load.log"
    home = instance_home(tmp_path / "dagster_home")
    fixture = load_world(scale, world)
    with isolated_database(warehouse_url) as warehouse, isolated_database(warehouse_url) as storage, \
            warehouse_in_force(warehouse) as engine, \
            Sandbox(fixture, sf_options={"rate_limit_per_minute": LOAD_SF_RATE_LIMIT}) as sandbox, \
            measured(reliability_report, f"load: {scale} world{' (fresh)' if world == 'fresh' else ''}, UI queried "
                                         "every second",
                     load=describe_world(fixture, scale, world),
                     faults=f"none; {CHANGED_SHARE:.0%} of work orders changed between the cycles; GraphQL "
                            "runsOrError + assetNodes every second") as row:
        env = {**os.environ, **sandbox_env(sandbox), "DAGSTER_HOME": str(home),
               DAGSTER_STORAGE_URL_ENV: storage.render_as_string(hide_password=False),
               "GREENLIGHT_SF_RATE_LIMIT_PER_MINUTE": str(LOAD_SF_RATE_LIMIT)}
        cycles: list[LoadCycle] = []
        with webserver(env, log) as (server, graphql):
            probe, ui_peak = UiProbe(graphql), PeakRss(server.pid)
            with every(1.0, probe.poll), every(0.5, ui_peak.sample):
                seen = len(sandbox.state.request_log())
                cycles.append(sync_cycle("full", env, log))
                creates, seen = sf_creates(sandbox, seen), len(sandbox.state.request_log())
                changed = change_work_orders(sandbox, CHANGED_SHARE)
                cycles.append(sync_cycle("incremental", env, log))
                creates_after = sf_creates(sandbox, seen)
            runs = probe.query()["runsOrError"]["results"]
        counts, twice = consistency(engine, sandbox)
        mismatched = {name: pair for name, pair in counts.items() if pair[0] != pair[1]}
        row.duplicates = twice + duplicate_jobs(sandbox)
        row.lost = sum(max(0, expected - got) for got, expected in counts.values())
        row.outcome = (
            "; ".join(f"{c.kind} {'ok' if c.ok else 'FAILED'} in {c.seconds:.0f} s ({n['/customers']:,} SF customers, "
                      f"{n['/jobs']:,} jobs created), run process peak {mib(c.run_rss):.0f} MiB (with dbt "
                      f"{mib(c.run_tree_rss):.0f} MiB)" for c, n in zip(cycles, (creates, creates_after), strict=False))
            + f"; {changed} work orders changed between; webserver peak {mib(ui_peak.own):.0f} MiB (with its code "
            f"server {mib(ui_peak.tree):.0f} MiB); UI {probe.answered} answers, {len(probe.failed)} errors, p95 "
            f"{probe.p95():.2f} s; raw = sandbox for {len(counts) - len(mismatched)}/{len(counts)} tables"
            f"{f' (differ: {mismatched})' if mismatched else ''}; load {os.getloadavg()[0]:.1f}")
        assert all(c.ok for c in cycles), f"{cycles}; log: {log.read_text(errors='replace')[-3000:]}"
        assert not mismatched, counts
        assert (row.lost, row.duplicates) == (0, 0)
        assert not probe.failed and probe.answered > 0, probe.failed[:5]
        assert sorted(r["status"] for r in runs) == ["SUCCESS", "SUCCESS"], runs
        assert max(c.run_rss for c in cycles) < RUN_RSS_LIMIT_MIB * 2**20
        assert ui_peak.own < WEBSERVER_RSS_LIMIT_MIB * 2**20
