"""Automation: the ``sync`` and ``backfill`` jobs, the business-hours schedule and the sensors."""

from __future__ import annotations

from greenlight_dagster.defs.automation.jobs import BACKFILL_JOB_NAME, SYNC_JOB_NAME, backfill_job, sync_job
from greenlight_dagster.defs.automation.schedules import business_hours_sync
from greenlight_dagster.defs.automation.sensors import record_run_failures, sf_job_changes

jobs = [sync_job, backfill_job]
schedules = [business_hours_sync]
sensors = [record_run_failures, sf_job_changes]

__all__ = ["BACKFILL_JOB_NAME", "SYNC_JOB_NAME", "backfill_job", "jobs", "schedules", "sensors", "sync_job"]
