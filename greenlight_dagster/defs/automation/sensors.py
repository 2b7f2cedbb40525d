"""Sensors: they only decide and record; every write to PW or SF happens inside a run.

* ``record_run_failures`` writes each failed run into ``ops.error_log`` (source ``dagster``) and
  marks its ``ops.sync_runs`` row failed, so the audit marts and ``greenlight status`` show
  failures next to rejected records without anyone reading Dagster's event log, and notifies
  operators when alerts are configured (`lib.alerts`); ``record_run_successes`` closes the row
  of every run that succeeded. They are the one place a run's row is closed, whatever the run's
  kind (sync, push, backfill, replay): no asset is the last step of every job, and runs that never
  plan (a backfill's) have no other row, so without them ``status`` would not list them. Both
  are on by default: recording is harmless, and alerts are off until a topic or an address is
  set. Each row is of the run's kind (`lib.runs.run_kind`).
* ``sf_job_changes`` polls ServiceFusion for job changes (one API call: the newest job since
  the cursor) and requests a sync when a technician moved a job, so progress reaches
  PropertyWare without waiting for the next scheduled sync. Its cursor is the newest
  ``updated_at`` seen (never one in the future: such a job is logged and passed over); the run key
  is that timestamp, so a change launches exactly one run.
  It ships stopped, like the schedule.
* ``push_after_plan`` launches the ``push`` job when ``reconcile/push_plan`` was materialized by
  anything but a sync (an operator rebuilt the plan from the UI after fixing data or changing a
  flag): the push follows its upstream asset without anyone launching it. A sync run pushes in
  the same run, so its plans are skipped; the run key is the planning run's id, so one plan is
  pushed at most once by the sensor. It ships stopped; every send still goes through the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dagster as dg
from sqlalchemy import Engine, insert

from greenlight_dagster.clients.records import SourceRecord
from greenlight_dagster.core import alerts
from greenlight_dagster.core.fields import latest_believable
from greenlight_dagster.defs.automation.jobs import SYNC_JOB_NAME, push_job, sync_job
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.lib.alerts import notify
from greenlight_dagster.lib.ingest import latest_partition_key
from greenlight_dagster.lib.lanes import failed_assets
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.lib.runs import run_kind
from greenlight_dagster.warehouse.run_records import finish_run
from greenlight_dagster.warehouse.tables import error_log


def _failed_steps(context: dg.RunFailureSensorContext) -> list[str]:
    """The failed steps, each with the assets that failed in it when it runs several (`lib.lanes`)."""
    named = set()
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        assets = failed_assets(data.user_failure_data.metadata) if data and data.user_failure_data else {}
        if event.step_key:
            named.add(f"{event.step_key} ({', '.join(assets)})" if assets else event.step_key)
    return sorted(named)


def _failure_reason(context: dg.RunFailureSensorContext) -> str:
    message = context.failure_event.message or "run failed"
    failed_steps = _failed_steps(context)
    return f"{message} (failed steps: {', '.join(failed_steps)})" if failed_steps else message


#: How soon a finished run reaches ops.sync_runs (and a failure the operators): Dagster's default, 30 s,
#: left `greenlight status` run right after a UI run without it. A tick reads only new run events.
RUN_RECORD_INTERVAL_SECONDS = 10


@dg.run_failure_sensor(
    minimum_interval_seconds=RUN_RECORD_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every failed run in ops.error_log with its failed steps, and tells operators "
                "(SNS / e-mail, when configured: docs/deploy.md).",
)
def record_run_failures(context: dg.RunFailureSensorContext, warehouse: WarehouseResource) -> None:
    run = context.dagster_run
    engine = warehouse.get_engine()
    reason = _failure_reason(context)
    with engine.begin() as conn:
        conn.execute(insert(error_log).values(
            run_id=run.run_id, source="dagster", entity=run.job_name, source_key=run.run_id,
            reason=reason[:4000], severity="error",
        ))
    _finish(context, engine, status="failed")
    notify(context.log, engine, run.run_id,
           lambda _: [alerts.run_failed(run.job_name, run.run_id, reason, _failed_steps(context))])


def _finish(context: dg.RunStatusSensorContext, engine: Engine, *, status: str) -> None:
    run = context.dagster_run
    record = context.instance.get_run_record_by_id(run.run_id)
    started = record.start_time if record is not None else None
    finish_run(engine, run.run_id, status=status, kind=run_kind(run.tags),
               started_at=datetime.fromtimestamp(started, UTC) if started else None)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    minimum_interval_seconds=RUN_RECORD_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every successful run in ops.sync_runs (a backfill's runs have no other record).",
)
def record_run_successes(context: dg.RunStatusSensorContext, warehouse: WarehouseResource) -> None:
    _finish(context, warehouse.get_engine(), status="succeeded")


def newest_job_change(resource: ServiceFusionResource, since: datetime | None, log: Any = None) -> datetime | None:
    """``updated_at`` of the most recently changed SF job after ``since`` (jobs are read newest first).

    A job modified in the future (`latest_believable`) is logged and passed over: the cursor would
    follow it there and no later change would ever request a sync.
    """
    ceiling = latest_believable(datetime.now(UTC))
    client = resource.build_client(log)
    try:
        for record in client.iter_records("jobs", modified_from=since):
            if not isinstance(record, SourceRecord) or record.modified_at is None:
                continue
            if record.modified_at > ceiling:
                if log is not None:
                    log.warning(f"ServiceFusion job {record.source_id} says it was modified at "
                                f"{record.modified_at.isoformat()}, in the future: not used as the cursor")
                continue
            return record.modified_at if since is None or record.modified_at > since else None
        return None
    finally:
        client.close()


@dg.sensor(
    job=sync_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Requests a sync when a ServiceFusion job changed since the last change seen (cursor).",
)
def sf_job_changes(context: dg.SensorEvaluationContext,
                   servicefusion: ServiceFusionResource) -> dg.RunRequest | dg.SkipReason:
    since = datetime.fromisoformat(context.cursor) if context.cursor else None
    if since is not None and since > latest_believable(datetime.now(UTC)):
        context.log.warning(f"the cursor {since.isoformat()} is in the future: starting it again")
        since = None
    newest = newest_job_change(servicefusion, since, context.log)
    if newest is None:
        return dg.SkipReason(f"no ServiceFusion job changed since {since.isoformat() if since else 'ever'}")
    context.update_cursor(newest.isoformat())
    if since is None:
        return dg.SkipReason(f"cursor initialised at {newest.isoformat()}; later changes will request a sync")
    return dg.RunRequest(run_key=f"sf-jobs-{newest.isoformat()}", partition_key=latest_partition_key(),
                         tags={"greenlight/trigger": "sf_job_changes"})


PUSH_PLAN_KEY = dg.AssetKey(["reconcile", "push_plan"])


@dg.asset_sensor(
    asset_key=PUSH_PLAN_KEY,
    job=push_job,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Launches the push when reconcile/push_plan was rebuilt outside a sync run (a sync pushes itself).",
)
def push_after_plan(context: dg.SensorEvaluationContext,
                    asset_event: dg.EventLogEntry) -> dg.RunRequest | dg.SkipReason:
    if asset_event.job_name == SYNC_JOB_NAME:
        return dg.SkipReason(f"plan of sync run {asset_event.run_id}: that run pushes it itself")
    return dg.RunRequest(run_key=f"push-after-plan-{asset_event.run_id}",
                         tags={"greenlight/trigger": "push_after_plan", "greenlight/plan_run": asset_event.run_id})
