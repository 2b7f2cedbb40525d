"""The warehouse reads behind the sync report's measures (`core.run_report.RunMeasures`).

Each run's measures are stored on its ``ops.sync_runs`` row, so the history lives in the
warehouse next to the runs and survives a rebuilt Dagster instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from greenlight_dagster.core.run_report import RunMeasures
from greenlight_dagster.warehouse.tables import RAW_ENTITIES, raw_table_name

#: Runs the report charts and averages over.
HISTORY_RUNS = 30


@dataclass(frozen=True)
class MappingCoverage:
    """PW entities of one type in ``marts.map_customer`` and how many have an SF customer."""

    entity_type: str
    total: int
    mapped: int

    @property
    def ratio(self) -> float:
        """Mapped share, 1.0 when there is nothing to map (nothing is missing)."""
        return round(self.mapped / self.total, 4) if self.total else 1.0


def customer_mapping(engine: Engine) -> list[MappingCoverage]:
    """Coverage of ``marts.map_customer`` per PW entity type (raises before the marts exist)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "select pw_entity_type, count(*) as total, count(*) filter (where is_mapped) as mapped "
            "from marts.map_customer group by pw_entity_type order by pw_entity_type"
        )).all()
    return [MappingCoverage(row.pw_entity_type, row.total, row.mapped) for row in rows]


def overall_coverage(parts: list[MappingCoverage]) -> MappingCoverage:
    """All entity types together."""
    return MappingCoverage("all", sum(part.total for part in parts), sum(part.mapped for part in parts))


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _mapping_coverage(engine: Engine) -> float | None:
    """Overall coverage (None before the warehouse is first built: no run has mapped anything yet)."""
    try:
        return overall_coverage(customer_mapping(engine)).ratio
    except ProgrammingError:
        return None


def measure_run(engine: Engine, run_id: str, started_at: datetime, now: datetime) -> RunMeasures:
    """What run ``run_id`` did, from what it left in the warehouse (raw versions, run stats, error log)."""
    landed = " + ".join(f'(select count(*) from raw."{raw_table_name(s, e)}" where _run_id = :run)'
                        for s, e in RAW_ENTITIES)
    return RunMeasures(
        run_id=run_id,
        measured_at=now,
        records_synced=int(_scalar(engine, f"select {landed}", run=run_id)),
        jobs_created=int(_scalar(engine, "select coalesce((stats->'sf_jobs'->>'created')::int, 0) "
                                         "from ops.sync_runs where run_id = :run", run=run_id) or 0),
        errors=int(_scalar(engine, "select count(*) from ops.error_log where run_id = :run and severity = 'error'",
                           run=run_id)),
        dead_letters=int(_scalar(engine, "select count(*) from ops.dead_letter where replayed_at is null")),
        mapping_coverage=_mapping_coverage(engine),
        duration_seconds=round(max((now - started_at).total_seconds(), 0.0), 1),
    )


def run_history(engine: Engine, limit: int = HISTORY_RUNS) -> list[RunMeasures]:
    """The last ``limit`` measured runs, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "select stats->'sync_report' as measures from ops.sync_runs where stats ? 'sync_report' "
            "order by started_at desc limit :limit"), {"limit": limit}).all()
    return [RunMeasures.from_stats(row.measures) for row in reversed(rows)]
