"""Code location of the daemon-restart scenario: the project's definitions, its SF sensor ticking every few seconds.

The shipped ``sf_job_changes`` ticks every 5 minutes and ships stopped; a scenario bounded to
a couple of minutes needs ticks every few seconds, and the daemon must run it without a UI
click. So this location serves the same definitions with that one sensor re-declared around
the shipped one: same name, same job, same evaluation (it calls the shipped sensor), only the
interval (``GREENLIGHT_TEST_SENSOR_SECONDS``) and the default status differ.
"""

from __future__ import annotations

import os

import dagster as dg

from greenlight_dagster.definitions import load_definitions
from greenlight_dagster.defs.automation.jobs import sync_job
from greenlight_dagster.defs.automation.sensors import sf_job_changes
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource

TICK_SECONDS_ENV = "GREENLIGHT_TEST_SENSOR_SECONDS"


@dg.sensor(name=sf_job_changes.name, job=sync_job, minimum_interval_seconds=int(os.environ.get(TICK_SECONDS_ENV, "2")),
           default_status=dg.DefaultSensorStatus.RUNNING, description=sf_job_changes.description)
def ticking_sf_job_changes(context: dg.SensorEvaluationContext,
                           servicefusion: ServiceFusionResource) -> dg.RunRequest | dg.SkipReason:
    result: dg.RunRequest | dg.SkipReason = sf_job_changes(context)
    return result


@dg.definitions
def defs() -> dg.Definitions:
    shipped = load_definitions()
    return dg.Definitions(
        assets=shipped.assets, asset_checks=shipped.asset_checks, jobs=shipped.jobs, schedules=shipped.schedules,
        sensors=[*(s for s in shipped.sensors or () if s.name != sf_job_changes.name), ticking_sf_job_changes],
        resources=shipped.resources,
    )
