"""``reconcile/sync_report``: the page an operator reads after a sync, in the asset's metadata.

No ``from __future__ import annotations``: Dagster reads the resource parameter types.

Two questions, answered without SQL or logs:

* *Is the sync healthy over time?* The run's measures (`warehouse.run_measures`) are stored on
  its ``ops.sync_runs`` row and charted with the last 30 measured runs (`core.run_report`). The
  measures are also numeric metadata, so the UI plots each one over time as well.
* *Where do PW and SF disagree right now?* The drift table lists every linked record whose sides
  disagree (`warehouse.drift`, rules in `core.drift`), with why and what to do.

The ``pw_and_sf_agree`` check is emitted by the asset from the very drift the report shows, so the
check and the table cannot disagree and the marts are read once. The run's row is closed by the
run-status sensors (`defs.automation.sensors`), as for every other kind of run.
"""

import time
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from greenlight_dagster.core.drift import drift_counts, unexpected
from greenlight_dagster.core.run_report import drift_examples, render_chart, report_markdown
from greenlight_dagster.defs.push.assets import PW_WORK_ORDERS, SF_CUSTOMERS, SF_JOBS
from greenlight_dagster.defs.reconcile.resources import SyncFlagsResource
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.lib.runs import run_kind
from greenlight_dagster.warehouse.drift import find_drift
from greenlight_dagster.warehouse.run_measures import measure_run, run_history
from greenlight_dagster.warehouse.run_records import record_run

SYNC_REPORT = dg.AssetKey(["reconcile", "sync_report"])
PW_AND_SF_AGREE = "pw_and_sf_agree"
#: Rows of the drift table metadata: enough to act on, small enough for the UI.
DRIFT_ROWS = 200

_DRIFT_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("work_order_id", "int", description="PW work order id"),
    dg.TableColumn("work_order_number", "int", description="the number PW users see"),
    dg.TableColumn("sf_job_id", "int"),
    dg.TableColumn("pw_status", "string"),
    dg.TableColumn("sf_status", "string"),
    dg.TableColumn("kind", "string", description="the kind(s) of disagreement"),
    dg.TableColumn("why", "string", description="what disagrees, per dim_status and the ledger"),
    dg.TableColumn("action", "string", description="what the operator should do"),
    dg.TableColumn("expected", "bool", description="the sync already handles it (pushed, or still to send)"),
])


def _run_started(context: dg.AssetExecutionContext) -> datetime:
    record = context.instance.get_run_record_by_id(context.run.run_id)
    started = record.start_time if record is not None else None
    return datetime.fromtimestamp(started, UTC) if started else datetime.now(UTC)


def _agreement(drift: list[dict[str, Any]]) -> dg.AssetCheckResult:
    """Warns on the drift the push does not handle; what it handles is only counted."""
    to_act_on = unexpected(drift)
    return dg.AssetCheckResult(check_name=PW_AND_SF_AGREE, passed=not to_act_on,
                               severity=dg.AssetCheckSeverity.WARN,
                               metadata={"records": len(to_act_on),
                                         "handled_by_the_push": len(drift) - len(to_act_on),
                                         "by_kind": dg.MetadataValue.json(drift_counts(to_act_on)),
                                         "examples": dg.MetadataValue.md(drift_examples(drift))})


@dg.asset(
    key=SYNC_REPORT,
    deps=[SF_CUSTOMERS, SF_JOBS, PW_WORK_ORDERS],
    group_name="reconcile",
    kinds={"python", "postgres"},
    owners=["team:greenlight"],
    description="After each sync: a Markdown report with a chart of the last 30 runs (records synced, SF jobs "
                "created, errors, open dead letters, customer mapping coverage, duration) and a drift table of "
                "the PW work orders and SF jobs that disagree, with why (e.g. closed in PW but open in SF). The "
                "run's measures are kept in ops.sync_runs.stats.sync_report.",
    check_specs=[dg.AssetCheckSpec(
        PW_AND_SF_AGREE, asset=SYNC_REPORT,
        description="Warns while linked PW work orders and SF jobs disagree in a way the push does not handle "
                    "(closed on one side and open on the other, a PW status behind its job's with no write "
                    "planned, unmapped statuses, deleted work orders, several jobs): the report's drift table "
                    "lists each one with why and what to do. A difference the push has sent or still owes is "
                    "listed as expected and does not warn.")],
)
def sync_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                sync_flags: SyncFlagsResource) -> dg.MaterializeResult:
    began = time.monotonic()
    engine = warehouse.get_engine()
    current = measure_run(engine, context.run.run_id, _run_started(context), datetime.now(UTC))
    record_run(engine, context.run.run_id, kind=run_kind(context.run.tags), flags=sync_flags.resolve(engine),
               stats={"sync_report": current.as_stats()})
    history = run_history(engine)
    drift = find_drift(engine)
    metadata: dict[str, Any] = {
        "report": dg.MetadataValue.md(report_markdown(current, history, drift, render_chart(history))),
        "drift": dg.MetadataValue.table(records=[dg.TableRecord(row) for row in drift[:DRIFT_ROWS]],
                                        schema=_DRIFT_SCHEMA),
        "drift_records": len(drift),
        "records_synced": current.records_synced,
        "jobs_created": current.jobs_created,
        "errors": current.errors,
        "dead_letters": current.dead_letters,
        "run_duration_seconds": current.duration_seconds,
        "runs_in_chart": len(history),
        "duration_seconds": round(time.monotonic() - began, 3),
    }
    if current.mapping_coverage is not None:
        metadata["mapping_coverage"] = dg.MetadataValue.float(current.mapping_coverage)
    return dg.MaterializeResult(metadata=metadata, check_results=[_agreement(drift)])


