"""One factory for every raw ingestion asset: window planning, streaming load, metadata, checks.

Each source package (``defs/propertyware``, ``defs/servicefusion``) declares its entities
as `RawEntity` values and one `Fetch` function; everything else - which window to read,
loading, tombstones, the high-water mark, the metadata the UI plots and the
``rejected_records`` check - lives here once, so the eleven assets cannot drift apart.

The raw assets of both sources are built as two steps, by partitioning (``ingest``: the nine
reference entities; ``ingest_daily``: ``pw/work_orders`` and ``sf/jobs``), each reading PW and SF
side by side, one lane per source (`lib.lanes`, decision 0021).

No ``from __future__ import annotations`` here: Dagster reads the ``config`` parameter's
type at decoration time and cannot resolve a string annotation.
"""

import time
import warnings
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field
from sqlalchemy import Engine, text

from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.resilience import CallStats
from greenlight_dagster.core.fields import latest_believable
from greenlight_dagster.core.markdown import escape_markdown
from greenlight_dagster.lib.freshness import with_business_hours_freshness
from greenlight_dagster.lib.lanes import EXTERNAL_APIS_POOL, Lane, Task, run_lanes
from greenlight_dagster.warehouse.loader import load_records, mark_deleted
from greenlight_dagster.warehouse.watermarks import DEFAULT_OVERLAP, database_now, get_mark, set_high_water, settle

#: Shared by ``pw/work_orders`` and ``sf/jobs`` so one run (the sync, a backfill) can hold both.
#: ``end_offset=1`` makes today's partition exist while today is still running.
DAILY_PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1)

OWNERS = ["team:greenlight"]

Records = Iterable[SourceRecord | RejectedRecord]


def latest_partition_key() -> str:
    """Today's daily partition (UTC): what the regular sync materializes the partitioned assets for."""
    key = DAILY_PARTITIONS.get_last_partition_key()
    assert key is not None  # the definition starts in the past, so a last partition always exists
    return key


#: The longest overlap accepted: a day. A longer look back is a backfill (``greenlight backfill``).
MAX_OVERLAP_MINUTES = 24 * 60
#: The largest COPY batch accepted: the loader holds one batch in memory.
MAX_BATCH_SIZE = 100_000


class IngestConfig(dg.Config):
    """Run config of every raw asset. Out-of-range values fail the step before anything is read:
    a negative overlap would skip records for good, a batch of 0 would load nothing and succeed."""

    full_refresh: bool = False
    """Re-fetch everything (ignoring the partition and the high-water mark) and tombstone vanished keys."""
    overlap_minutes: float = Field(
        default=DEFAULT_OVERLAP.total_seconds() / 60, ge=0, le=MAX_OVERLAP_MINUTES,
        description=f"Incremental runs re-read this much before the high-water mark, against clock skew and "
                    f"late commits (0-{MAX_OVERLAP_MINUTES} minutes).")
    batch_size: int = Field(default=5000, ge=1, le=MAX_BATCH_SIZE,
                            description=f"Records per COPY batch and commit; bounds the loader's memory "
                                        f"(1-{MAX_BATCH_SIZE}).")


@dataclass(frozen=True)
class Window:
    """What one materialization reads: last-modified in ``[start, end)``; None = unbounded."""

    mode: str  # full | initial | incremental | backfill
    start: datetime | None
    end: datetime | None
    advances_watermark: bool
    tombstones: bool

    def describe(self) -> str:
        start = self.start.isoformat() if self.start else "the beginning"
        end = self.end.isoformat() if self.end else "now"
        return f"{self.mode}: modified from {start} until {end}"


@dataclass
class Extraction:
    """An open read: the record stream and the client's live counters.

    ``full_read``: the API could not narrow the read to the window (PW's ``getAllPortfolios()``
    and ``getVendors()`` take no criteria), so every record came back: the asset then treats the
    read as full (tombstones included). ``window_mark``: set when the records carry no
    modification time (PW's legacy SOAP structs); asked once the records are loaded, it gives
    the end of the window the read covered, which becomes the high-water mark instead of the
    latest record's time.
    """

    records: Records
    stats: CallStats
    full_read: bool = False
    window_mark: Callable[[], datetime | None] | None = None


#: (resource, entity, window, log) -> Extraction. The only source-specific code per package.
Fetch = Callable[[Any, str, Window, Any], Extraction]


#: What a daily-partitioned raw asset reads, in the words of its description in the UI.
PARTITIONED_READS = (
    "Daily-partitioned by last-modified time for backfills: a run over past days re-reads exactly [start, end) "
    "and leaves the high-water mark alone; today's partition (what `greenlight sync` materializes) is the "
    "incremental sync from ops.watermarks minus a 5-minute overlap, up to now; a range reaching today reads from "
    "its start up to now. The first run and `full_refresh` read everything (`full_refresh` also tombstones "
    "vanished records). Re-running any window appends nothing: a version lands only when its payload hash changes."
)


@dataclass(frozen=True)
class RawEntity:
    """One raw asset: ``{source}/{entity}`` landing in ``raw.{source}_{entity}``."""

    entity: str
    description: str
    incremental: bool = True  # False: the API cannot filter by last-modified, every run reads everything
    partitioned: bool = False


@dataclass(frozen=True)
class SourceSpec:
    """What the assets of one source system share."""

    source: str  # pw | sf
    group_name: str
    resource_key: str
    kinds: frozenset[str]
    fetch: Fetch


def plan_window(*, entity: RawEntity, full_refresh: bool, high_water: datetime | None, overlap: timedelta,
                partition_window: tuple[datetime, datetime] | None, reaches_latest_partition: bool,
                settled: bool = False) -> Window:
    """Decide what a materialization reads.

    * ``full_refresh`` (or an entity the API cannot filter): everything, then tombstones.
    * A partition range that ends before today's partition: a **backfill** of exactly that
      window; the high-water mark is left alone (it speaks for the present, not the past).
    * Otherwise (unpartitioned, today's partition, or a range that reaches today):
      **incremental** from the mark minus the overlap up to now - from the mark itself once it
      is ``settled`` (`warehouse.watermarks`), widened to the range start when a range reaching
      today starts earlier; the very first run (no mark) reads everything (**initial**).
    """
    if full_refresh or not entity.incremental:
        return Window("full", None, None, advances_watermark=True, tombstones=True)
    if partition_window is not None and not reaches_latest_partition:
        return Window("backfill", partition_window[0], partition_window[1], advances_watermark=False,
                      tombstones=False)
    if high_water is None:
        return Window("initial", None, None, advances_watermark=True, tombstones=False)
    start = high_water if settled else high_water - overlap
    if partition_window is not None:
        start = min(start, partition_window[0])
    return Window("incremental", start, None, advances_watermark=True, tombstones=False)


class _WindowFilter:
    """Drops records modified outside ``[start, end)``: APIs filter inclusively, partitions are half-open."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.dropped = 0

    def __call__(self, records: Records) -> Iterator[SourceRecord | RejectedRecord]:
        start, end = self.window.start, self.window.end
        for record in records:
            if isinstance(record, SourceRecord) and record.modified_at is not None and (
                (start is not None and record.modified_at < start) or (end is not None and record.modified_at >= end)
            ):
                self.dropped += 1
                continue
            yield record


def as_full_read(window: Window) -> Window:
    """The window of a read that returned everything: a backfill stays one (it moves no mark and
    tombstones nothing), anything else becomes full, so vanished records are tombstoned."""
    if window.mode in ("full", "backfill"):
        return window
    return Window("full", None, None, advances_watermark=window.advances_watermark, tombstones=True)


def earned_mark(window: Window, extraction_mark: datetime | None, max_modified_at: datetime | None,
                now: datetime) -> datetime | None:
    """Where the high-water mark may move after a read: the records' latest modified time, or for
    records without one the end of the requested window; never past ``now``."""
    if not window.advances_watermark:
        return None
    mark = extraction_mark if extraction_mark is not None else max_modified_at
    return min(mark, now) if mark is not None else None


def _partition_window(context: dg.AssetExecutionContext) -> tuple[tuple[datetime, datetime] | None, bool]:
    """(time window of the run's partitions, whether they reach today's); today's alone = the plain sync."""
    if not context.has_partition_key_range and not context.has_partition_key:
        return None, False
    keys = context.partition_key_range
    latest = latest_partition_key()
    if keys.start == latest:
        return None, True
    window = context.partition_time_window
    return (window.start, window.end), keys.end == latest


@dataclass(frozen=True)
class RunScope:
    """What every entity of one step reads under: the run, its partitions and its config."""

    engine: Engine
    run_id: str
    partition_window: tuple[datetime, datetime] | None
    reaches_latest_partition: bool
    config: IngestConfig


def ingest_entity(spec: SourceSpec, entity: RawEntity, resource: Any, scope: RunScope,
                  log: Any) -> dg.MaterializeResult:
    """Read one entity in its window, land it, move its high-water mark: ``{source}/{entity}``'s materialization."""
    began = time.monotonic()
    key = dg.AssetKey([spec.source, entity.entity])
    engine, config = scope.engine, scope.config
    ceiling = latest_believable(datetime.now(UTC))
    read_started = database_now(engine)
    stored = get_mark(engine, spec.source, entity.entity)
    high_water, settled = (stored.high_water, stored.settled) if stored is not None else (None, False)
    if high_water is not None and high_water > ceiling:
        log.warning(f"the stored high-water mark {high_water.isoformat()} is in the future: reading "
                    "everything once and replacing it")
        high_water = None
    overlap = timedelta(minutes=config.overlap_minutes)
    window = plan_window(entity=entity, full_refresh=config.full_refresh, high_water=high_water, settled=settled,
                         overlap=overlap, partition_window=scope.partition_window,
                         reaches_latest_partition=scope.reaches_latest_partition)
    log.info(f"{window.describe()} (high-water mark: {high_water}{', settled' if settled else ''})")

    extraction = spec.fetch(resource, entity.entity, window, log)
    if extraction.full_read and window.mode != "full":
        window = as_full_read(window)
        log.info(f"the API reads this entity only in full ({window.describe()})")
    in_window = _WindowFilter(window)
    seen: array[int] | None = array("q") if window.tombstones else None
    stats = load_records(engine, spec.source, entity.entity, in_window(extraction.records),
                         run_id=scope.run_id, batch_size=config.batch_size, seen_ids=seen, mark_ceiling=ceiling)

    tombstones = 0
    if seen is not None:
        if stats.fetched:
            tombstones = mark_deleted(engine, spec.source, entity.entity, seen, scope.run_id)
        else:
            log.warning("the source served no records at all: not tombstoning anything, "
                        "an empty answer is likelier an API or permission problem than an empty system")
    stored_mark = high_water
    window_mark = extraction.window_mark() if extraction.window_mark is not None else None
    mark = earned_mark(window, window_mark, stats.max_modified_at, datetime.now(UTC))
    if mark is not None:
        stored_mark = set_high_water(engine, spec.source, entity.entity, mark, scope.run_id, replace_after=ceiling)
    if window.mode == "incremental" and high_water is not None and stored_mark == high_water:
        settled = settle(engine, spec.source, entity.entity, high_water, read_started, overlap)
    if stats.rejected:
        log.warning(f"{stats.rejected} record(s) rejected; see ops.error_log for run {scope.run_id}")
    if stats.future_dated:
        log.warning(f"{stats.future_dated} record(s) last modified in the future (after "
                    f"{ceiling.isoformat()}): loaded, not used as the high-water mark; see ops.error_log")

    calls = extraction.stats
    return dg.MaterializeResult(asset_key=key, metadata={
        "records_fetched": stats.fetched,
        "new_versions": stats.new_versions,
        "unchanged": stats.unchanged,
        "rejected": stats.rejected,
        "duplicates": stats.duplicates,
        "sanitized": stats.sanitized,
        "future_dated": stats.future_dated,
        "outside_window": in_window.dropped,
        "tombstones": tombstones,
        "api_calls": calls.calls,
        "retries": calls.retries,
        "rate_limited": calls.rate_limited,
        "rate_limit_wait_seconds": float(calls.wait_seconds),
        "bytes_received": calls.bytes_received,
        "duration_seconds": round(time.monotonic() - began, 3),
        "mode": window.mode,
        "window_start": window.start.isoformat() if window.start else "",
        "window_end": window.end.isoformat() if window.end else "",
        "high_water": stored_mark.isoformat() if stored_mark else "",
        "high_water_settled": settled and stored_mark == high_water,
    })


@dataclass(frozen=True)
class Source:
    """One source system's assets: what they share and its entities."""

    spec: SourceSpec
    entities: tuple[RawEntity, ...]


def _spec(spec: SourceSpec, entity: RawEntity) -> dg.AssetSpec:
    return dg.AssetSpec(dg.AssetKey([spec.source, entity.entity]), description=entity.description,
                        group_name=spec.group_name, kinds=set(spec.kinds), owners=OWNERS,
                        metadata={"table": f"raw.{spec.source}_{entity.entity}"})


def build_ingest_asset(name: str, sources: Sequence[Source], *, partitioned: bool,
                       description: str) -> dg.AssetsDefinition:
    """One step for the raw assets of every source with the same partitioning: one lane per source (`lib.lanes`).

    The step can be subset: materializing one asset from the UI reads that entity alone.
    """
    members = {source.spec: [entity for entity in source.entities if entity.partitioned == partitioned]
               for source in sources}

    with warnings.catch_warnings():
        # BackfillPolicy is beta in this Dagster and chosen on purpose (a range runs as one run); its
        # notice, once per asset in every process's log, tells operators nothing.
        warnings.simplefilter("ignore", dg.BetaWarning)
        as_multi_asset = dg.multi_asset(
            name=name,
            description=description,
            specs=[_spec(spec, entity) for spec, entities in members.items() for entity in entities],
            can_subset=True,
            pool=EXTERNAL_APIS_POOL,
            required_resource_keys={"warehouse", *(source.spec.resource_key for source in sources)},
            partitions_def=DAILY_PARTITIONS if partitioned else None,
            backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        )

    @as_multi_asset
    def _ingest(context: dg.AssetExecutionContext, config: IngestConfig) -> Iterator[dg.MaterializeResult]:
        partition_window, reaches_latest = _partition_window(context)
        scope = RunScope(context.resources.warehouse.get_engine(), context.run.run_id, partition_window,
                         reaches_latest, config)
        selected = context.selected_asset_keys

        def task(spec: SourceSpec, entity: RawEntity) -> Task:
            resource = getattr(context.resources, spec.resource_key)
            return Task(dg.AssetKey([spec.source, entity.entity]),
                        lambda log: ingest_entity(spec, entity, resource, scope, log))

        lanes = [Lane(spec.group_name, [task(spec, entity) for entity in entities
                                        if dg.AssetKey([spec.source, entity.entity]) in selected])
                 for spec, entities in members.items()]
        yield from run_lanes(context.log, lanes)

    return with_business_hours_freshness([_ingest])[0]


def build_rejected_records_check(spec: SourceSpec, entity: RawEntity) -> dg.AssetChecksDefinition:
    """WARN when the asset's latest materialization rejected records, with the count and top reasons."""
    key = dg.AssetKey([spec.source, entity.entity])

    @dg.asset_check(asset=key, name="rejected_records", required_resource_keys={"warehouse"},
                    description="Warns when the latest materialization sent records to ops.error_log.")
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        event = context.instance.get_latest_materialization_event(key)
        if event is None:
            return dg.AssetCheckResult(passed=True, metadata={"rejected": 0, "note": "not materialized yet"})
        with context.resources.warehouse.get_engine().connect() as conn:
            reasons = conn.execute(text(
                "select reason, count(*) as n from ops.error_log where run_id = :run and source = :source"
                " and entity = :entity and severity = 'error' group by reason order by n desc, reason"
            ), {"run": event.run_id, "source": spec.source, "entity": entity.entity}).all()
        rejected = sum(n for _, n in reasons)
        return dg.AssetCheckResult(
            passed=rejected == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rejected": rejected, "run_id": event.run_id,
                      "top_reasons": dg.MetadataValue.md(
                          "\n".join(f"- {n} x {escape_markdown(r, 200)}" for r, n in reasons[:5]) or "none")},
        )

    return _check


def build_rejected_records_checks(source: Source) -> list[dg.AssetChecksDefinition]:
    """The ``rejected_records`` check of every asset of one source system."""
    return [build_rejected_records_check(source.spec, e) for e in source.entities]
