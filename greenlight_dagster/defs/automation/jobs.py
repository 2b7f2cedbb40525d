"""The jobs operators launch, schedules start and sensors request.

One job, ``sync``, is the whole cycle (ingest → warehouse → reconcile → push) because those
steps only make sense together: a push planned from a stale warehouse is how the old system
sent duplicates. It is partitioned like ``pw/work_orders`` and ``sf/jobs`` (Dagster infers
that from the selection); today's partition is the regular incremental sync, a past range is a
backfill, and unpartitioned assets simply run in every run.
"""

from __future__ import annotations

import dagster as dg

SYNC_JOB_NAME = "sync"

sync_job = dg.define_asset_job(
    SYNC_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="One full cycle: PropertyWare and ServiceFusion ingestion, dbt build of the warehouse, "
                "reconciliation into the ledger, and the pushes the flags allow. Launch today's partition "
                "for a regular sync; a past date range re-reads that window (backfill).",
    tags={"greenlight/kind": "sync"},
)

BACKFILL_JOB_NAME = "backfill"

backfill_job = dg.define_asset_job(
    BACKFILL_JOB_NAME,
    selection=dg.AssetSelection.assets(dg.AssetKey(["pw", "work_orders"]), dg.AssetKey(["sf", "jobs"]))
    | dg.AssetSelection.groups("warehouse"),
    description="Re-read a historical window of PropertyWare work orders and ServiceFusion jobs and rebuild the "
                "warehouse. Never pushes: history is repaired, nothing is sent. Re-running a window appends nothing.",
    tags={"greenlight/kind": "backfill"},
)
