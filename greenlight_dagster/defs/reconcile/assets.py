"""``reconcile/push_plan``: the plan of every write to SF and PW, recorded in the ledger.

No ``from __future__ import annotations``: Dagster reads resource parameter types.

The plan is built the same way in a dry run and a real run (`core.plan.build_push_plan`), so
the preview table is exactly what the push assets will send when the flags allow it; work orders
and tenants whose customer is created in this run are listed as ``awaiting_customer`` and
planned by the push itself once that customer exists (`outbox.planning`). Checks:
``no_duplicate_sf_jobs`` (ERROR: the invariant, at most one SF job per PW work order, measured
on the warehouse's copy of SF) and ``dead_letters`` / ``attention_items`` (WARN: writes that need
a person).
"""

import json
import time
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from sqlalchemy import text

from greenlight_dagster.core import alerts
from greenlight_dagster.core.markdown import escape_markdown
from greenlight_dagster.core.plan import PushPlan
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource
from greenlight_dagster.defs.reconcile.resources import SyncFlagsResource
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.lib.alerts import notify
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.lib.runs import run_kind
from greenlight_dagster.outbox.planning import record_push_plan
from greenlight_dagster.warehouse.candidates import load_candidates
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster.warehouse.run_records import previous_step_stat, record_run

OWNERS = ["team:greenlight"]
PUSH_PLAN = dg.AssetKey(["reconcile", "push_plan"])
SYNC_MODELS = [dg.AssetKey(["warehouse", name]) for name in
               ("sync_sf_job_creates", "sync_sf_customer_creates", "sync_pw_progress_updates")]
#: Rows shown in the preview table (the full plan is in ops.sync_ledger and `greenlight preview`).
PREVIEW_LIMIT = 500

_PREVIEW_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("action", "string", description="write (planned) or hold (not planned, with the reason)"),
    dg.TableColumn("target", "string", description="sf | pw"),
    dg.TableColumn("operation", "string"),
    dg.TableColumn("source_id", "string", description="PW work order id, or portfolio-N / tenant-N"),
    dg.TableColumn("will_send", "bool", description="false in a dry run or when the target is disabled"),
    dg.TableColumn("detail", "string"),
])


def preview_table(plan: PushPlan, limit: int = PREVIEW_LIMIT) -> dg.TableMetadataValue:
    """The plan record by record: writes first, then held-back items with their reason."""
    rows = [{key: row[key] for key in ("action", "target", "operation", "source_id", "will_send", "detail")}
            for row in plan.preview_rows()[:limit]]
    return dg.MetadataValue.table(records=[dg.TableRecord(row) for row in rows], schema=_PREVIEW_SCHEMA)


def sf_job_category_names(servicefusion: ServiceFusionResource, log: Any) -> list[str]:
    """The account's job category names; without them jobs are planned with no category (SF
    answers an unknown category with 422), which is logged rather than failing the plan."""
    try:
        return [str(c.get("name")) for c in servicefusion.build_client(log).list_job_categories() if c.get("name")]
    except Exception as exc:  # the plan must not depend on a reference-data read
        log.warning(f"could not read ServiceFusion job categories ({exc}); jobs are planned without a category")
        return []


@dg.asset(
    key=PUSH_PLAN,
    deps=SYNC_MODELS,
    group_name="reconcile",
    kinds={"python", "postgres"},
    owners=OWNERS,
    description="Every write the sync intends, decided by core/plan.py from the sync_* candidate models: SF "
                "customer and job creates and PW work-order updates from SF job progress, each one a row in "
                "ops.sync_ledger (planned) with its idempotency key; everything not planned is listed with the "
                "reason it is held back. Written in dry runs too, so the preview table is what a real run sends. "
                "Dedup decisions go to ops.duplicate_detection_log.",
)
def push_plan(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sync_flags: SyncFlagsResource,
              servicefusion: ServiceFusionResource, propertyware: PropertyWareResource) -> dg.MaterializeResult:
    began = time.monotonic()
    engine = warehouse.get_engine()
    flags = sync_flags.resolve(engine)
    pw_apis = propertyware.apis()
    context.log.info(f"flags in force: {json.dumps(flags.as_dict())}; PropertyWare: {pw_apis.describe()}")
    candidates = load_candidates(engine, sf_job_category_names(servicefusion, context.log))
    result = record_push_plan(LedgerStore(engine), flags, candidates, run_id=context.run.run_id, now=datetime.now(UTC),
                              pw_apis=pw_apis)
    plan, recorded, logged = result.plan, result.recorded, result.decisions_logged
    summary = plan.summary()
    waiting = alerts.waiting_for_a_person(plan.held_back)
    previous = previous_step_stat(engine, context.run.run_id, "push_plan", "needs_a_person")
    record_run(engine, context.run.run_id, kind=run_kind(context.run.tags), flags=flags,
               stats={"push_plan": {**summary, **recorded.as_dict(), "held_back": len(plan.held_back),
                                    "needs_a_person": sum(waiting.values())},
                      "propertyware_api": pw_apis.describe()})
    notify(context.log, engine, context.run.run_id, lambda settings: [
        alerts.duplicate_jobs(context.run.run_id, LedgerStore(engine).new_duplicate_detections(context.run.run_id)),
        alerts.held_back(context.run.run_id, sum(waiting.values()), previous, settings.held_back_threshold, waiting)])
    return dg.MaterializeResult(metadata={
        "planned": len(plan.writes),
        "held_back": len(plan.held_back),
        "dry_run": flags.dry_run,
        "propertyware_api": pw_apis.describe(),
        "flags": dg.MetadataValue.json(flags.as_dict()),
        "candidates": dg.MetadataValue.json(candidates.counts()),
        "summary": dg.MetadataValue.json(summary),
        "ledger": dg.MetadataValue.json(recorded.as_dict()),
        "dedup_decisions_logged": logged,
        "preview": preview_table(plan),
        "preview_truncated": len(plan.writes) + len(plan.held_back) > PREVIEW_LIMIT,
        "duration_seconds": round(time.monotonic() - began, 3),
    })


@dg.asset_check(asset=PUSH_PLAN, name="no_duplicate_sf_jobs",
                description="The invariant: at most one SF job per PW work order (jobs stamped with the same work "
                            "order id in the warehouse's copy of SF). Warns: the push holds such a work order's "
                            "PW writes for a person (decision 0012); the rest of the sync goes on.")
def no_duplicate_sf_jobs(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.get_engine().connect() as conn:
        rows = conn.execute(text(
            "select work_order_id, array_agg(job_id order by job_id) as jobs from marts.map_work_order_job "
            "group by work_order_id having count(*) > 1 order by work_order_id limit 50")).all()
    listing = "\n".join(f"- work order {row.work_order_id}: SF jobs {list(row.jobs)}" for row in rows)
    return dg.AssetCheckResult(passed=not rows, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"work_orders_with_duplicates": len(rows),
                                         "examples": dg.MetadataValue.md(listing or "none")})


def _open_items(warehouse: WarehouseResource, state: str) -> dg.AssetCheckResult:
    with warehouse.get_engine().connect() as conn:
        rows = conn.execute(text(
            "select id, idempotency_key, last_error from ops.sync_ledger where state = :state order by id"),
            {"state": state}).all()
    listing = "\n".join(
        f"- #{row.id} {escape_markdown(row.idempotency_key)}: {escape_markdown(row.last_error or '', 200)}"
        for row in rows[:20])
    return dg.AssetCheckResult(passed=not rows, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"count": len(rows), "examples": dg.MetadataValue.md(listing or "none")})


@dg.asset_check(asset=PUSH_PLAN, name="dead_letters",
                description="Warns while writes sit in dead letters (permanent errors, strict-verification stops, "
                            "writes that could not be verified): fix the data, then `greenlight dead-letters replay`.")
def dead_letters(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _open_items(warehouse, "dead")


@dg.asset_check(asset=PUSH_PLAN, name="attention_items",
                description="Warns while ledger items wait for a person: work orders changed after their SF job "
                            "was created (the SF API cannot update a job) and SF job states PW must decide.")
def attention_items(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _open_items(warehouse, "attention")
