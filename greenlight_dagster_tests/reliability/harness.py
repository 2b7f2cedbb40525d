"""The sync under test: isolated warehouses, full cycles against the sandbox, and state fingerprints.

Why an isolated database per scenario: the comparisons are between whole warehouses (a
fault-free run and a faulty one of the same seed), and dbt's SCD2 snapshots keep history that
a truncate of ``raw.*`` would not clear. So every world gets its own database on the session's
PostgreSQL server, created empty, migrated by the sync itself and dropped afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from greenlight_dagster.core.dedup import stamped_work_order_ids
from greenlight_dagster.instance.environ import environment_set
from greenlight_dagster.instance.home import project_root
from greenlight_dagster.lib.ingest import latest_partition_key
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.warehouse import connection, migrate


@contextmanager
def isolated_database(server_url: URL) -> Iterator[URL]:
    """A new, empty database on the server of ``server_url``, dropped (forcibly) on exit."""
    name = f"glrel_{uuid.uuid4().hex[:12]}"
    # No pool: a scenario may kill and restart the server, and the drop must not reuse a dead connection.
    admin = create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'create database "{name}"'))
        yield server_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@contextmanager
def warehouse_in_force(url: URL) -> Iterator[Engine]:
    """Point every resource of this process (and its children) at ``url``; restore the previous one on exit.

    `connection.warehouse_url` is cached per process, so the cache is cleared on the way in
    and again on the way out - otherwise later tests would keep talking to a dropped database.
    """
    saved = os.environ.get(connection.WAREHOUSE_URL_ENV)
    os.environ[connection.WAREHOUSE_URL_ENV] = url.render_as_string(hide_password=False)
    connection.warehouse_url.cache_clear()
    engine = create_engine(url, pool_pre_ping=True)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        if saved is None:
            os.environ.pop(connection.WAREHOUSE_URL_ENV, None)
        else:
            os.environ[connection.WAREHOUSE_URL_ENV] = saved
        connection.warehouse_url.cache_clear()


# ---------------------------------------------------------------- the sync against one world

#: Pushes on, to the sandbox only; the sandbox's SF allows 100x the real rate so cycles take seconds.
SF_RATE_LIMIT = 6000
SYNC_FLAGS = {"GREENLIGHT_DRY_RUN": "false", "GREENLIGHT_ENABLE_SERVICE_FUSION": "true",
              "GREENLIGHT_SAFE_MODE_MAX_CREATES": "100000", "GREENLIGHT_SF_RATE_LIMIT_PER_MINUTE": str(SF_RATE_LIMIT)}
#: Requests that change SF or PW: a cycle that sends none of these (and succeeds) is converged.
WRITES = {("sf", "/customers"), ("sf", "/jobs"), ("pw", "updateWorkOrder"), ("pw", "closeWorkOrder"),
          ("pw", "attachNoteToWorkOrder"), ("pw", "createWorkOrder")}


@dataclass(frozen=True)
class Cycle:
    """One sync run: did it succeed, what failed, how many writes reached the sandbox, retries spent."""

    success: bool
    failures: tuple[str, ...]
    writes: int
    retries: int
    seconds: float


def sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    """Everything a sync process needs to talk to ``sandbox`` with pushes on."""
    return {**sandbox.env(), **SYNC_FLAGS}


def count_writes(requests: list[dict[str, Any]]) -> int:
    return sum(1 for r in requests if (r["server"], r["operation"]) in WRITES and r["method"] == "POST")


#: Run config of a sync that follows a crash: a ``sending`` ledger entry left by the dead run is looked
#: up at once instead of after the default 5 minutes of grace (which the next scheduled run, 30 minutes
#: later, is past anyway). The dead run's advisory lock is what really proves it gone (ledger_store).
AFTER_CRASH: dict[str, Any] = {"ops": {"send_push_plan": {"config": {"orphan_grace_minutes": 0.0}}}}


def execute_sync(run_config: Mapping[str, Any] | None = None, *, persistent: bool = False) -> dg.ExecuteInProcessResult:
    """The ``sync`` job for today's partition, in this process, on an ephemeral instance.

    ``persistent``: on the instance of ``DAGSTER_HOME`` instead, so a webserver on that instance
    shows the run (the load scenario).
    """
    from greenlight_dagster.definitions import load_definitions

    with dg.DagsterInstance.get() if persistent else dg.DagsterInstance.ephemeral() as instance:
        return load_definitions().resolve_job_def("sync").execute_in_process(
            instance=instance, partition_key=latest_partition_key(), raise_on_error=False,
            run_config=dict(run_config or {}))


def _failure_text(event: dg.DagsterEvent) -> str:
    """The step and the error it failed with (the event's message alone only says *that* it failed)."""
    messages, error = [], event.step_failure_data.error
    while error is not None:  # Dagster wraps the op's exception: the cause chain holds what happened
        messages.append(error.message.strip())
        error = error.cause
    return f"{event.step_key}: {' <- '.join(messages) or event.message}"


def run_cycle(sandbox: Sandbox, run_config: Mapping[str, Any] | None = None) -> Cycle:
    """One `execute_sync`, with what it sent to ``sandbox`` and the retries it spent."""
    began = time.monotonic()
    seen = len(sandbox.state.request_log())
    result = execute_sync(run_config)
    retries = sum(int(m.metadata["retries"].value) for m in (
        e.step_materialization_data.materialization for e in result.get_asset_materialization_events())
        if "retries" in m.metadata)
    return Cycle(result.success, tuple(_failure_text(e) for e in result.all_events if e.is_step_failure),
                 count_writes(sandbox.state.request_log(since=seen)), retries, time.monotonic() - began)


def converge(sandbox: Sandbox, engine: Engine, max_cycles: int,
             run_config: Mapping[str, Any] | None = None) -> list[Cycle]:
    """Run cycles until one succeeds, writes nothing and leaves no write waiting (or ``max_cycles``).

    A ``failed`` ledger entry waits out its backoff (30 s doubling up to an hour) before it is
    retried, which the schedule's 30-minute cadence covers in production; here the wait is
    skipped by making such entries due before each cycle - time passing, nothing else.
    """
    cycles: list[Cycle] = []
    while len(cycles) < max_cycles:
        waiting = make_retries_due(engine)
        cycles.append(run_cycle(sandbox, run_config))
        if cycles[-1].success and cycles[-1].writes == 0 and not waiting:
            break
    return cycles


def make_retries_due(engine: Engine) -> int:
    """Move the next attempt of every ``failed`` ledger entry to now; returns how many there were."""
    with engine.begin() as conn:
        return conn.execute(text("update ops.sync_ledger set next_attempt_at = now() where state = 'failed'"
                                 " and next_attempt_at > now()")).rowcount


# ---------------------------------------------------------------- fingerprints

#: Keys the servers assign (ids, numbers, clock stamps, the per-instance user name): they differ between
#: two runs of the same seed by construction, so they are left out of the content compared. A
#: reference between SF records is compared through the name it resolves to (``customer_name``),
#: which is kept. PW ids are chosen by the fixture, not the server, so they are kept.
SF_ASSIGNED = frozenset({"id", "number", "customer_id", "created_at", "updated_at", "closed_at"})
PW_ASSIGNED = frozenset({"lastModifiedDateTime", "createdDateTime", "createdBy"})
#: Mart columns holding SF-assigned ids, surrogate keys derived from them, or load/snapshot times.
MART_EXCLUDED = re.compile(r"(^|_)(sf_)?(job|customer|parent_customer)_(id|number|key)$|_key$|_sk$|_at$"
                           r"|^valid_(from|to)$|^dbt_|^_|run_id$|version_id$|^number$|^job_number$")


def _strip(value: Any, excluded: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v, excluded) for k, v in value.items() if k not in excluded}
    if isinstance(value, list):
        return [_strip(v, excluded) for v in value]
    return value


@dataclass(frozen=True)
class Fingerprint:
    """Per table: the multiset of its records' stable content (canonical JSON strings)."""

    tables: dict[str, Counter[str]]

    def checksums(self) -> dict[str, str]:
        return {name: hashlib.sha256("\n".join(sorted(rows.elements())).encode()).hexdigest()[:12]
                for name, rows in self.tables.items()}

    def diff(self, other: Fingerprint) -> tuple[int, int]:
        """(records of ``self`` missing from ``other``, records of ``other`` beyond ``self``) over all tables."""
        lost = extra = 0
        for name in self.tables.keys() | other.tables.keys():
            mine, theirs = self.tables.get(name, Counter()), other.tables.get(name, Counter())
            lost += sum((mine - theirs).values())
            extra += sum((theirs - mine).values())
        return lost, extra


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def fingerprint(sandbox: Sandbox, engine: Engine) -> Fingerprint:
    """The SF and PW sandbox state and every ``marts`` table, stable content only (see the constants)."""
    snapshot = sandbox.state.snapshot()
    tables: dict[str, Counter[str]] = {}
    for system, excluded in (("servicefusion", SF_ASSIGNED), ("propertyware", PW_ASSIGNED)):
        for name, records in snapshot[system].items():
            if isinstance(records, list):
                tables[f"{system}.{name}"] = Counter(_canonical(_strip(r, excluded)) for r in records)
    with engine.connect() as conn:
        marts = conn.execute(text("select table_name from information_schema.tables where table_schema = 'marts'"
                                  " and table_type = 'BASE TABLE' order by table_name")).scalars().all()
        for name in marts:
            rows = conn.execute(text(f'select to_jsonb(t) from marts."{name}" t')).scalars()
            tables[f"marts.{name}"] = Counter(
                _canonical({k: v for k, v in row.items() if not MART_EXCLUDED.search(k)}) for row in rows)
    return Fingerprint(tables)


def duplicate_jobs(sandbox: Sandbox) -> int:
    """SF jobs beyond the first per PW work order (the invariant: at most one, ever)."""
    per_work_order = Counter(wo for job in sandbox.state.snapshot()["servicefusion"]["jobs"]
                             for wo in stamped_work_order_ids(job))
    return sum(n - 1 for n in per_work_order.values() if n > 1)


@dataclass(frozen=True)
class LedgerAccount:
    """Where every intended write ended up; ``unaccounted`` must be zero."""

    states: dict[str, int]
    dead_without_reason: int

    @property
    def unaccounted(self) -> int:
        """Entries neither done, nor dead with a reason, nor parked for an operator ("attention")."""
        return sum(n for state, n in self.states.items() if state not in ("done", "dead", "attention")) + \
            self.dead_without_reason


def ledger_account(engine: Engine) -> LedgerAccount:
    with engine.connect() as conn:
        states = dict(conn.execute(text("select state, count(*) from ops.sync_ledger group by state")).all())
        orphans = conn.execute(text(
            "select count(*) from ops.sync_ledger l where l.state = 'dead' and not exists ("
            " select 1 from ops.dead_letter d where d.ledger_id = l.id and coalesce(d.reason, '') <> '')")).scalar()
    return LedgerAccount(states, int(orphans or 0))


# ---------------------------------------------------------------- chaos

#: The write operations a lost answer hurts most: the request is applied, then the connection drops.
COMMIT_THEN_DROP = (("sf", "POST /jobs"), ("sf", "POST /customers"), ("pw", "updateWorkOrder"),
                    ("pw", "closeWorkOrder"))
TRANSPORT_MIX = ("reset", "error", "rate_limit", "latency")
LATENCY_MS = 300


def chaos_rules(rate: float, seed: int) -> list[dict[str, Any]]:
    """Fault rules putting about ``rate`` of every call on both servers at risk, seeded.

    Each of reset / 5xx / 429 / latency spike takes a quarter of ``rate`` on every operation,
    and the write operations also meet commit-then-drop at ``rate``.
    """
    rules = [{"server": server, "operation": "*", "kind": kind, "rate": rate / len(TRANSPORT_MIX),
              "ms": LATENCY_MS if kind == "latency" else 0, "seed": seed + i}
             for server in ("pw", "sf") for i, kind in enumerate(TRANSPORT_MIX)]
    rules += [{"server": server, "operation": operation, "kind": "commit_then_drop", "rate": rate,
               "seed": seed + 10 + i} for i, (server, operation) in enumerate(COMMIT_THEN_DROP)]
    return rules


# ---------------------------------------------------------------- one world

#: Every scenario syncs the same world, so all compare with one fault-free baseline.
SEED = 7
SCALE = "small"


@dataclass
class World:
    """A sandbox world of `SEED` and its own warehouse, with the sync's environment in force."""

    sandbox: Sandbox
    engine: Engine

    def fingerprint(self) -> Fingerprint:
        return fingerprint(self.sandbox, self.engine)


@contextmanager
def world(server_url: URL) -> Iterator[World]:
    """A started sandbox of `SEED`/`SCALE` and an isolated warehouse; everything stopped and dropped on exit."""
    with isolated_database(server_url) as url, warehouse_in_force(url) as engine, \
            Sandbox(seed=SEED, scale=SCALE, sf_options={"rate_limit_per_minute": SF_RATE_LIMIT}) as sandbox, \
            environment_set(sandbox_env(sandbox)):
        yield World(sandbox, engine)


# ---------------------------------------------------------------- Dagster processes


def instance_home(directory: Path, *, max_concurrent_runs: int | None = None) -> Path:
    """A DAGSTER_HOME with the project's dagster.yaml (PostgreSQL storage from the environment).

    ``max_concurrent_runs``: overrides the queue's limit (0 keeps requested runs queued).
    """
    config = yaml.safe_load((project_root() / "dagster.yaml").read_text())
    if max_concurrent_runs is not None:
        config.setdefault("concurrency", {}).setdefault("runs", {})["max_concurrent_runs"] = max_concurrent_runs
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dagster.yaml").write_text(yaml.safe_dump(config))
    return directory


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc``'s process group (it was started in its own session): no shutdown hook runs."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
