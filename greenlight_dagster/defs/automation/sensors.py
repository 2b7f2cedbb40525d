"""Sensors: they only decide and record; every write to PW or SF happens inside a run.

* ``record_run_failures`` writes each failed run into ``ops.error_log`` (source ``dagster``),
  so the audit marts and ``greenlight status`` show failures next to rejected records
  without anyone reading Dagster's event log. It is on by default: recording is harmless.
"""

from __future__ import annotations

import dagster as dg
from sqlalchemy import insert

from greenlight_dagster.defs.resources import WarehouseResource
from greenlight_dagster.warehouse.tables import error_log


def _failure_reason(context: dg.RunFailureSensorContext) -> str:
    message = context.failure_event.message or "run failed"
    failed_steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    return f"{message} (failed steps: {', '.join(failed_steps)})" if failed_steps else message


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every failed run in ops.error_log with its failed steps.",
)
def record_run_failures(context: dg.RunFailureSensorContext, warehouse: WarehouseResource) -> None:
    run = context.dagster_run
    with warehouse.get_engine().begin() as conn:
        conn.execute(insert(error_log).values(
            run_id=run.run_id, source="dagster", entity=run.job_name, source_key=run.run_id,
            reason=_failure_reason(context)[:4000], severity="error",
        ))
