"""The business-hours sync: every 30 minutes, 12:00-23:59 UTC, Monday to Friday.

That is the window the old system planned (US business hours). The schedule ships stopped:
an operator turns it on in the UI once a dry run's preview looks right, so a fresh deployment
never starts pushing on its own.
"""

from __future__ import annotations

import dagster as dg

from greenlight_dagster.defs.automation.jobs import sync_job

BUSINESS_HOURS_CRON = "*/30 12-23 * * 1-5"


@dg.schedule(
    job=sync_job,
    cron_schedule=BUSINESS_HOURS_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Business-hours sync of today's partition every 30 minutes (12:00-23:59 UTC, Mon-Fri).",
)
def business_hours_sync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Today's partition; the run key is the tick time, so a daemon restart never doubles a tick."""
    tick = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"sync-{tick.strftime('%Y-%m-%dT%H:%M')}",
        partition_key=tick.strftime("%Y-%m-%d"),
        tags={"greenlight/trigger": "schedule"},
    )
