"""The jobs operators launch, schedules start and sensors request.

``replay_dead_letters`` (ops, not assets: it materializes nothing) sends chosen dead letters
again right away, through the same replay and lookup path as ``greenlight dead-letters replay``.

One job, ``sync``, is the whole cycle (ingest → warehouse → reconcile → push) because those
steps only make sense together: a push planned from a stale warehouse is how the old system
sent duplicates. It is partitioned like ``pw/work_orders`` and ``sf/jobs`` (Dagster infers
that from the selection); today's partition is the regular incremental sync, a past range is a
backfill, and unpartitioned assets simply run in every run.
"""

from __future__ import annotations

import dagster as dg

from greenlight_dagster.defs.push.replay import replay_selected_dead_letters, send_replayed_pw, send_replayed_sf
from greenlight_dagster.defs.warehouse.translator import WAREHOUSE_GROUP

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
    | dg.AssetSelection.key_prefixes([WAREHOUSE_GROUP]),
    description="Re-read a historical window of PropertyWare work orders and ServiceFusion jobs and rebuild the "
                "warehouse. Never pushes: history is repaired, nothing is sent. Re-running a window appends nothing.",
    tags={"greenlight/kind": "backfill"},
)

PUSH_JOB_NAME = "push"

push_job = dg.define_asset_job(
    PUSH_JOB_NAME,
    selection=dg.AssetSelection.groups("push"),
    description="Send what the ledger holds: the push assets alone, from the last reconcile/push_plan. The "
                "push_after_plan sensor launches it when a plan was rebuilt outside a sync (a sync pushes itself).",
    tags={"greenlight/kind": "push"},
)

REPLAY_DEAD_LETTERS_JOB_NAME = "replay_dead_letters"


@dg.job(name=REPLAY_DEAD_LETTERS_JOB_NAME, tags={"greenlight/kind": "replay"},
        description="Send dead letters again, now: set ledger_ids (from `greenlight dead-letters list` or the "
                    "reconcile/push_plan dead_letters check) or all_dead_letters in the op config of "
                    "replay_selected_dead_letters. Each write is looked up on its target before it is resent, so a "
                    "replay never creates a second record; the flags apply as in a sync.")
def replay_dead_letters_job() -> None:
    replayed = replay_selected_dead_letters()
    send_replayed_sf(replayed)
    send_replayed_pw(replayed)
