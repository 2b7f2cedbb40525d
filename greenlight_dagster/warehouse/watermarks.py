"""Durable high-water marks of the incremental extractions (``ops.watermarks``).

The mark is the newest source last-modified time a completed run has landed. It lives in
the warehouse, not in Dagster cursors, so a rebuilt Dagster instance, the CLI and a
backfill all agree on it. The clock-skew overlap is the caller's business: this module
stores exactly what it is given, and never moves a mark backwards. `DEFAULT_OVERLAP` is that
overlap's default, defined here once because both the ingest (which reads from the mark) and the
push's bulk reads (which must cover what the ingest covered) start that far before the mark.

A mark is *settled* once a read that started an overlap after the mark moved has completed:
every record stamped at or before the mark has committed by then and that read saw it, so the
ingest's later reads need not look back. Moving the mark unsettles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert

from greenlight_dagster.warehouse.tables import watermarks

#: How far before the mark an incremental read starts, against clock skew and late commits.
DEFAULT_OVERLAP = timedelta(minutes=5)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Mark:
    high_water: datetime
    settled: bool  # nothing at or before high_water can still appear (see the module docstring)


def get_mark(engine: Engine, source: str, entity: str) -> Mark | None:
    """The mark of ``(source, entity)`` and whether it is settled; None before the first completed run."""
    with engine.connect() as conn:
        row = conn.execute(select(watermarks.c.high_water, watermarks.c.settled_at).where(
            watermarks.c.source == source, watermarks.c.entity == entity)).first()
    return Mark(_utc(row.high_water), row.settled_at is not None) if row is not None else None


def database_now(engine: Engine) -> datetime:
    """The warehouse's clock: marks are timed by it, so a read's start is too (no skew between hosts)."""
    with engine.connect() as conn:
        return _utc(conn.execute(select(func.now())).scalar_one())


def settle(engine: Engine, source: str, entity: str, high_water: datetime, read_started_at: datetime,
           overlap: timedelta) -> bool:
    """Settle the mark if it is still ``high_water`` and the read began ``overlap`` or more after it moved.

    Whether it is settled afterwards is returned. A run that moved the mark meanwhile wins: the
    condition on ``high_water`` leaves its (unsettled) mark alone.
    """
    stmt = (update(watermarks)
            .where(watermarks.c.source == source, watermarks.c.entity == entity,
                   watermarks.c.high_water == _utc(high_water), watermarks.c.settled_at.is_(None),
                   watermarks.c.updated_at <= _utc(read_started_at) - overlap)
            .values(settled_at=func.now()))
    with engine.begin() as conn:
        conn.execute(stmt)
        settled_at = conn.execute(select(watermarks.c.settled_at).where(
            watermarks.c.source == source, watermarks.c.entity == entity,
            watermarks.c.high_water == _utc(high_water))).scalar()
    return settled_at is not None


def get_high_water(engine: Engine, source: str, entity: str) -> datetime | None:
    """The mark of ``(source, entity)``, or None if no incremental run has completed yet."""
    mark = get_mark(engine, source, entity)
    return mark.high_water if mark is not None else None


def set_high_water(engine: Engine, source: str, entity: str, high_water: datetime, run_id: str, *,
                   replace_after: datetime | None = None) -> datetime:
    """Move the mark forward to ``high_water`` (a later mark already stored wins); returns the stored mark.

    A mark that moves is no longer settled. Forward-only in one statement, so two overlapping
    runs cannot race the mark back - except that a stored mark later than ``replace_after`` is
    replaced: a mark in the future is a past data error, and keeping it would freeze the
    incremental reads for good.
    """
    stmt = insert(watermarks).values(source=source, entity=entity, high_water=_utc(high_water), run_id=run_id)
    moves = watermarks.c.high_water < stmt.excluded.high_water
    if replace_after is not None:
        moves = moves | (watermarks.c.high_water > _utc(replace_after))
    stmt = stmt.on_conflict_do_update(
        index_elements=[watermarks.c.source, watermarks.c.entity],
        set_={"high_water": stmt.excluded.high_water, "run_id": stmt.excluded.run_id, "updated_at": func.now(),
              "settled_at": None},
        where=moves,
    )
    with engine.begin() as conn:
        conn.execute(stmt)
        stored: datetime = conn.execute(
            select(watermarks.c.high_water).where(watermarks.c.source == source, watermarks.c.entity == entity)
        ).scalar_one()
    return _utc(stored)
