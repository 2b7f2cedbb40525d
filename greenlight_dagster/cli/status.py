"""`greenlight status`: where the sync stands, from the warehouse alone.

Everything an operator asks first - did the last runs do anything, is anything stuck in the
ledger, are there dead letters, which flags will the next run use, how fresh is the data - in
one screen, without PropertyWare or ServiceFusion credentials: it reads ``ops.*`` only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select

from greenlight_dagster.cli.flags import FlagInForce, flags_in_force, print_flags
from greenlight_dagster.cli.operator import echo_json, json_option, warehouse_engine
from greenlight_dagster.core.ledger import LedgerState
from greenlight_dagster.lib.runs import BACKFILL
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster.warehouse.tables import RAW_ENTITIES, error_log, sync_runs, watermarks

#: Push steps whose counters ``ops.sync_runs.stats`` holds (defs/push records them per run).
PUSH_STEPS = ("sf_customers", "sf_jobs", "pw_work_orders")
PUSH_COUNTERS = ("sent", "created", "failed", "dead_letters")


@dataclass(frozen=True)
class Freshness:
    source: str
    entity: str
    high_water: datetime | None
    updated_at: datetime | None

    def age_text(self, now: datetime) -> str:
        if self.updated_at is None:
            return "never"
        minutes = int((now - self.updated_at).total_seconds() // 60)
        return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"


@dataclass(frozen=True)
class Status:
    runs: list[dict[str, Any]]
    ledger: dict[str, dict[str, int]]  # "target.operation" -> state -> rows
    dead_letters: int
    flags: list[FlagInForce]
    freshness: list[Freshness]

    def as_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "ledger": self.ledger, "dead_letters": self.dead_letters,
                "flags": {row.name: {"value": row.value, "origin": row.origin} for row in self.flags},
                "freshness": [asdict(row) for row in self.freshness]}


def last_runs(engine: Engine, limit: int) -> list[dict[str, Any]]:
    """The newest ``ops.sync_runs`` with their push counters and logged errors."""
    errors = (select(error_log.c.run_id, func.count().label("errors")).where(error_log.c.severity == "error")
              .group_by(error_log.c.run_id).subquery())
    query = (select(sync_runs, func.coalesce(errors.c.errors, 0).label("errors"))
             .outerjoin(errors, errors.c.run_id == sync_runs.c.run_id)
             .order_by(sync_runs.c.started_at.desc()).limit(limit))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    result = []
    for row in rows:
        stats = row.stats or {}
        counters = {name: sum(int((stats.get(step) or {}).get(name) or 0) for step in PUSH_STEPS)
                    for name in PUSH_COUNTERS}
        result.append({"run_id": row.run_id, "kind": row.kind, "status": row.status, "started_at": row.started_at,
                       "dry_run": (row.flags or {}).get("dry_run"),
                       "held_back": int((stats.get("push_plan") or {}).get("held_back") or 0),
                       **counters, "errors": int(row.errors)})
    return result


def dry_run_text(run: dict[str, Any]) -> str:
    """The dry-run cell: the flag the run planned under; a run that planned nothing had no say in it."""
    if run["dry_run"] is None:
        return "no push" if run["kind"] == BACKFILL else "-"
    return "yes" if run["dry_run"] else "no"


def ledger_by_state(store: LedgerStore) -> dict[str, dict[str, int]]:
    """`LedgerStore.count_states` pivoted: one row per target.operation, one column per state."""
    pivot: dict[str, dict[str, int]] = {}
    for key, count in store.count_states().items():
        write, state = key.rsplit(".", 1)
        pivot.setdefault(write, {})[state] = count
    return dict(sorted(pivot.items()))


def freshness(engine: Engine) -> list[Freshness]:
    """Every raw entity's high-water mark; an entity with none is listed too (never loaded)."""
    with engine.connect() as conn:
        marks = {(row.source, row.entity): row for row in conn.execute(select(watermarks))}
    return [Freshness(source, entity, getattr(marks.get((source, entity)), "high_water", None),
                      getattr(marks.get((source, entity)), "updated_at", None)) for source, entity in RAW_ENTITIES]


def collect_status(engine: Engine, run_limit: int) -> Status:
    store = LedgerStore(engine)
    return Status(last_runs(engine, run_limit), ledger_by_state(store), len(store.dead_letters()),
                  flags_in_force(engine), freshness(engine))


def print_status(status: Status) -> None:
    console = Console()
    now = datetime.now(UTC)
    runs = Table(title="last runs")
    for column in ("run", "kind", "status", "started (UTC)", "dry run", "held back", *PUSH_COUNTERS, "errors"):
        runs.add_column(column.replace("_", " "), justify="left" if column in ("run", "kind", "status") else "right")
    for run in status.runs:
        runs.add_row(run["run_id"][:8], run["kind"], run["status"], f"{run['started_at']:%Y-%m-%d %H:%M}",
                     dry_run_text(run),
                     str(run["held_back"]), *(str(run[name]) for name in PUSH_COUNTERS), str(run["errors"]))
    console.print(runs if status.runs else "no sync runs recorded yet")

    ledger = Table(title="ledger (ops.sync_ledger) by state")
    ledger.add_column("write")
    for state in LedgerState:
        ledger.add_column(state.value, justify="right")
    for write, counts in status.ledger.items():
        ledger.add_row(write, *(str(counts.get(state.value, 0)) for state in LedgerState))
    console.print(ledger if status.ledger else "the ledger is empty")

    style = "bold red" if status.dead_letters else "green"
    console.print(f"[{style}]dead letters: {status.dead_letters}[/{style}]"
                  + (" (see `greenlight dead-letters list`)" if status.dead_letters else ""))
    print_flags(status.flags, console)

    fresh = Table(title="warehouse freshness (ops.watermarks)")
    for column in ("source", "entity", "newest change loaded (UTC)", "mark moved"):
        fresh.add_column(column)
    for row in status.freshness:
        fresh.add_row(row.source, row.entity, f"{row.high_water:%Y-%m-%d %H:%M}" if row.high_water else "-",
                      row.age_text(now))
    console.print(fresh)


@click.command()
@click.option("--runs", "run_limit", type=click.IntRange(1, 500), default=10, show_default=True,
              help="How many recent runs to show.")
@json_option
def status(run_limit: int, as_json: bool) -> None:
    """Last runs, the ledger by state, dead letters, flags in force and warehouse freshness (warehouse only)."""
    with warehouse_engine() as engine:
        result = collect_status(engine, run_limit)
    if as_json:
        echo_json(result.as_dict())
    else:
        print_status(result)
