"""Which window a raw asset reads: full, initial, incremental with overlap, or an exact backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.lib.ingest import (
    DAILY_PARTITIONS,
    RawEntity,
    Window,
    _WindowFilter,
    as_full_read,
    earned_mark,
    plan_window,
)

WO = RawEntity("work_orders", "work orders", partitioned=True)
STATUSES = RawEntity("job_statuses", "statuses", incremental=False)
HW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
OVERLAP = timedelta(minutes=5)
DAY = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC))


def plan(entity: RawEntity = WO, **kw: object) -> Window:
    args: dict[str, object] = {"full_refresh": False, "high_water": HW, "overlap": OVERLAP,
                               "partition_window": None, "reaches_latest_partition": False}
    args.update(kw)
    return plan_window(entity=entity, **args)  # type: ignore[arg-type]


def test_full_refresh_reads_everything_and_tombstones() -> None:
    assert plan(full_refresh=True, partition_window=DAY) == Window("full", None, None, True, True)


def test_an_entity_without_a_modified_filter_is_always_a_full_read() -> None:
    assert plan(STATUSES).mode == "full" and plan(STATUSES).tombstones


def test_first_run_without_a_mark_reads_everything_without_tombstones() -> None:
    assert plan(high_water=None) == Window("initial", None, None, True, False)


def test_incremental_starts_at_the_mark_minus_the_overlap_and_is_open_ended() -> None:
    assert plan() == Window("incremental", HW - OVERLAP, None, True, False)


def test_a_settled_mark_starts_the_read_at_the_mark_itself() -> None:
    assert plan(settled=True) == Window("incremental", HW, None, True, False)
    today = (HW.replace(hour=0), HW.replace(hour=0) + timedelta(days=1))
    assert plan(settled=True, partition_window=(DAY[0], today[1]), reaches_latest_partition=True).start == DAY[0]


def test_a_past_partition_range_is_an_exact_backfill_that_leaves_the_mark_alone() -> None:
    assert plan(partition_window=DAY) == Window("backfill", DAY[0], DAY[1], False, False)


def test_a_range_reaching_today_is_the_incremental_sync_widened_to_the_range_start() -> None:
    today = (HW.replace(hour=0), HW.replace(hour=0) + timedelta(days=1))
    assert plan(partition_window=None, reaches_latest_partition=True).start == HW - OVERLAP
    wide = plan(partition_window=(DAY[0], today[1]), reaches_latest_partition=True)
    assert (wide.mode, wide.start, wide.end, wide.advances_watermark) == ("incremental", DAY[0], None, True)


def test_window_filter_is_half_open_and_keeps_rejects_and_undated_records() -> None:
    keep = _WindowFilter(Window("backfill", DAY[0], DAY[1], False, False))
    records = [SourceRecord("work_orders", 1, DAY[0], {}), SourceRecord("work_orders", 2, DAY[1], {}),
               SourceRecord("work_orders", 3, DAY[0] - timedelta(seconds=1), {}),
               SourceRecord("work_orders", 4, None, {}), RejectedRecord("work_orders", "5", "bad", "")]
    assert [getattr(r, "source_id", None) for r in keep(records)] == [1, 4, None]
    assert keep.dropped == 2


def test_the_daily_partitions_include_today() -> None:
    assert DAILY_PARTITIONS.get_last_partition_key() == datetime.now(UTC).strftime("%Y-%m-%d")


def test_a_read_the_api_could_not_narrow_is_a_full_read() -> None:
    """getAllPortfolios()/getVendors() take no criteria: an incremental or initial read got everything."""
    assert as_full_read(plan()) == Window("full", None, None, True, True)
    assert as_full_read(plan(high_water=None)) == Window("full", None, None, True, True)
    backfill = plan(partition_window=DAY)
    assert as_full_read(backfill) == backfill  # a backfill moves no mark and tombstones nothing, whatever it read


def test_records_without_a_modified_time_earn_the_window_end_never_past_now() -> None:
    now = datetime(2026, 1, 6, tzinfo=UTC)
    incremental = plan()
    assert earned_mark(incremental, HW + OVERLAP, None, now) == HW + OVERLAP  # SOAP: the window asked for
    assert earned_mark(incremental, None, HW, now) == HW  # records with a time: the latest of them
    assert earned_mark(incremental, now + timedelta(days=1), None, now) == now
    assert earned_mark(incremental, None, datetime(9999, 12, 31, tzinfo=UTC), now) == now
    assert earned_mark(incremental, None, None, now) is None  # nothing read, nothing earned
    assert earned_mark(plan(partition_window=DAY), DAY[1], None, now) is None  # backfills keep the mark
