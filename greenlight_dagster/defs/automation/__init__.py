"""Automation: the ``sync``, ``backfill`` and ``push`` jobs, the business-hours schedule and the sensors."""

from __future__ import annotations

from greenlight_dagster.defs.automation.jobs import (
    BACKFILL_JOB_NAME,
    PUSH_JOB_NAME,
    SYNC_JOB_NAME,
    backfill_job,
    push_job,
    sync_job,
)
from greenlight_dagster.defs.automation.schedules import business_hours_sync
from greenlight_dagster.defs.automation.sensors import (
    push_after_plan,
    record_run_failures,
    record_run_successes,
    sf_job_changes,
)

jobs = [sync_job, backfill_job, push_job]
schedules = [business_hours_sync]
sensors = [record_run_failures, record_run_successes, sf_job_changes, push_after_plan]

__all__ = ["BACKFILL_JOB_NAME", "PUSH_JOB_NAME", "SYNC_JOB_NAME", "backfill_job", "jobs", "push_job", "schedules",
           "sensors", "sync_job"]
