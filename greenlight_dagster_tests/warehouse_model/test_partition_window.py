"""The backfill window the dbt assets hand to the incremental marts (dbt vars window_start/window_end)."""

from __future__ import annotations

import dagster as dg

from greenlight_dagster.defs.warehouse.assets import partition_window_vars
from greenlight_dagster.lib.ingest import latest_partition_key


def test_past_partition_range_becomes_the_window() -> None:
    context = dg.build_asset_context(partition_key_range=dg.PartitionKeyRange("2025-03-01", "2025-03-03"))
    assert partition_window_vars(context) == {
        "window_start": "2025-03-01T00:00:00+00:00",
        "window_end": "2025-03-04T00:00:00+00:00",  # half-open: the end day is included
    }


def test_single_past_partition_is_one_day() -> None:
    context = dg.build_asset_context(partition_key="2025-03-01")
    assert partition_window_vars(context) == {
        "window_start": "2025-03-01T00:00:00+00:00",
        "window_end": "2025-03-02T00:00:00+00:00",
    }


def test_regular_sync_passes_no_window() -> None:
    assert partition_window_vars(dg.build_asset_context(partition_key=latest_partition_key())) == {}
    assert partition_window_vars(dg.build_asset_context()) == {}
