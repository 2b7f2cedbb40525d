"""The record of each run on ``ops.sync_runs``: its kind, the flags in force, per-step counters, its outcome.

`greenlight status`, the sync report and the ``sync_history`` mart read it; the push plan writes the
flags and counters, the run-status sensors (or the CLI, for in-process runs) close the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, literal, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.warehouse.tables import sync_runs


def record_run(engine: Engine, run_id: str, *, kind: str, flags: SyncFlags,
               stats: Mapping[str, Any] | None = None) -> None:
    """Upsert the run's row: its flags, and ``stats`` merged into the per-step counters."""
    values = {"run_id": run_id, "kind": kind, "flags": flags.as_dict(), "stats": dict(stats or {})}
    statement = pg_insert(sync_runs).values(**values)
    with engine.begin() as conn:
        conn.execute(statement.on_conflict_do_update(
            index_elements=["run_id"],
            set_={"flags": statement.excluded.flags,
                  "stats": func.coalesce(sync_runs.c.stats, literal({}, JSONB)).op("||")(statement.excluded.stats)},
        ))


def previous_step_stat(engine: Engine, run_id: str, step: str, name: str) -> int | None:
    """The counter ``name`` of ``step`` in the latest other run that recorded it (None: no such run)."""
    query = text("select (stats -> :step ->> :name)::bigint from ops.sync_runs where run_id <> :run "
                 "and (stats -> :step) ? :name order by started_at desc limit 1")
    with engine.connect() as conn:
        value = conn.execute(query, {"step": step, "name": name, "run": run_id}).scalar()
    return int(value) if value is not None else None


def finish_run(engine: Engine, run_id: str, *, status: str, kind: str, started_at: datetime | None = None) -> None:
    """Close the run's row (``succeeded`` / ``failed``) so `greenlight status` shows how it ended.

    A run that planned nothing (a backfill never plans) still gets a row, of its ``kind`` and
    started when the run did: the outcome matters even when no flags were read.
    """
    values: dict[str, Any] = {"run_id": run_id, "kind": kind, "status": status, "finished_at": func.now()}
    if started_at is not None:
        values["started_at"] = started_at
    statement = pg_insert(sync_runs).values(**values)
    with engine.begin() as conn:
        conn.execute(statement.on_conflict_do_update(
            index_elements=["run_id"], set_={"status": statement.excluded.status, "finished_at": func.now()},
        ))
