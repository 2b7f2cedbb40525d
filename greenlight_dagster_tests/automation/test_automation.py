"""The schedule and the sensors (SF job changes, push after plan, run outcomes) decide exactly once per event."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.defs.automation.jobs import PUSH_JOB_NAME, SYNC_JOB_NAME
from greenlight_dagster.defs.automation.schedules import BUSINESS_HOURS_CRON, business_hours_sync
from greenlight_dagster.defs.automation.sensors import (
    PUSH_PLAN_KEY,
    push_after_plan,
    record_run_failures,
    record_run_successes,
    sf_job_changes,
)
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.lib.lanes import Lane, LaneLog, Task
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster_tests.failed_runs import failed_run


def test_schedule_runs_todays_partition_with_the_tick_as_run_key() -> None:
    tick = datetime(2026, 1, 5, 12, 30, tzinfo=UTC)
    request = business_hours_sync(dg.build_schedule_context(scheduled_execution_time=tick))
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == "sync-2026-01-05T12:30"
    assert request.partition_key == "2026-01-05"
    assert BUSINESS_HOURS_CRON == "*/30 12-23 * * 1-5"
    assert business_hours_sync.execution_timezone == "UTC"
    assert business_hours_sync.default_status == dg.DefaultScheduleStatus.STOPPED


def _sf_resource(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> ServiceFusionResource:
    env = sandbox.env()
    for name, value in env.items():  # the endpoints are deployment configuration: the environment
        monkeypatch.setenv(name, value)
    return ServiceFusionResource(client_id=env["GREENLIGHT_SF_CLIENT_ID"],
                                 client_secret=env["GREENLIGHT_SF_CLIENT_SECRET"], rate_limit_per_minute=6000)


def _evaluate(cursor: str | None, resource: ServiceFusionResource) -> tuple[object, str | None]:
    context = dg.build_sensor_context(cursor=cursor, resources={"servicefusion": resource})
    result = sf_job_changes(context)
    return result, context.cursor


def test_sf_sensor_requests_one_sync_per_job_change(fresh_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    resource = _sf_resource(fresh_sandbox, monkeypatch)
    first, cursor = _evaluate(None, resource)
    assert isinstance(first, dg.SkipReason) and "cursor initialised" in str(first.skip_message)
    assert cursor is not None

    quiet, same_cursor = _evaluate(cursor, resource)
    assert isinstance(quiet, dg.SkipReason) and same_cursor == cursor

    job_id = fresh_sandbox.state.snapshot()["servicefusion"]["jobs"][0]["id"]
    fresh_sandbox.state.patch("servicefusion", "jobs", job_id, {"status": "Completed"})
    request, moved = _evaluate(cursor, resource)
    assert isinstance(request, dg.RunRequest)
    assert moved is not None and moved > cursor
    assert request.run_key == f"sf-jobs-{moved}"

    again, _ = _evaluate(moved, resource)
    assert isinstance(again, dg.SkipReason), "the same change must not request a second sync"


def test_failed_runs_are_recorded_in_the_error_log(warehouse_engine: Engine) -> None:
    failed = failed_run("PropertyWare answered 503 three times")
    record_run_failures(failed.context, warehouse=WarehouseResource())
    with warehouse_engine.connect() as conn:
        row = conn.execute(text("select source, entity, reason from ops.error_log where run_id = :r"),
                           {"r": failed.run_id}).one()
    assert row.source == "dagster" and row.entity == "doomed"
    assert "explode" in row.reason
    with warehouse_engine.connect() as conn:
        run = conn.execute(text("select status, finished_at from ops.sync_runs where run_id = :r"),
                           {"r": failed.run_id}).one()
    assert run.status == "failed" and run.finished_at is not None


def test_a_failed_step_with_lanes_is_recorded_with_the_assets_that_failed_in_it(warehouse_engine: Engine) -> None:
    def hung_up(log: LaneLog) -> dg.MaterializeResult:
        raise ConnectionError("PropertyWare hung up")

    failed = failed_run("not reached", lanes=[Lane("pw", [Task(dg.AssetKey(["pw", "units"]), hung_up)])])
    record_run_failures(failed.context, warehouse=WarehouseResource())
    with warehouse_engine.connect() as conn:
        reason = conn.execute(text("select reason from ops.error_log where run_id = :r"),
                              {"r": failed.run_id}).scalar_one()
    assert "(failed steps: explode (pw/units))" in reason, reason


def _succeeded(kind_tags: dict[str, str]) -> dg.RunStatusSensorContext:
    """A run with ``kind_tags`` that succeeded, as the run-status sensor is given it."""

    @dg.op
    def work() -> None:
        """Does nothing: only the run's outcome and tags matter here."""

    @dg.job(tags=kind_tags)
    def some_job() -> None:
        work()

    instance = dg.DagsterInstance.ephemeral()
    result = some_job.execute_in_process(instance=instance)
    return dg.build_run_status_sensor_context(sensor_name="record_run_successes", dagster_instance=instance,
                                              dagster_run=result.dagster_run,
                                              dagster_event=result.get_run_success_event())


@pytest.mark.parametrize(("tags", "kind"), [
    ({"greenlight/kind": "sync"}, "sync"),
    ({"greenlight/kind": "push"}, "push"),
    ({"greenlight/kind": "backfill"}, "backfill"),
    ({"greenlight/kind": "sync", "dagster/backfill": "abc"}, "backfill"),
])
def test_every_kind_of_successful_run_gets_its_row_closed(warehouse_engine: Engine, tags: dict[str, str],
                                                          kind: str) -> None:
    """The sensor, not any asset, closes the run row: push and backfill runs have no report to do it."""
    context = _succeeded(tags)
    record_run_successes(context, warehouse=WarehouseResource())
    with warehouse_engine.connect() as conn:
        run = conn.execute(text("select kind, status, started_at, finished_at from ops.sync_runs where run_id = :r"),
                           {"r": context.dagster_run.run_id}).one()
    assert (run.kind, run.status) == (kind, "succeeded")
    assert run.started_at is not None and run.finished_at is not None


def _plan_materialized_by(job_name: str, instance: dg.DagsterInstance) -> str:
    """A run of ``job_name`` that materializes an asset keyed like reconcile/push_plan; its run id."""

    @dg.asset(key=PUSH_PLAN_KEY)
    def push_plan() -> None:
        """Stands in for the real plan: the sensor only reads which run materialized it."""

    job = dg.define_asset_job(job_name, selection=[push_plan]).resolve(asset_graph=dg.Definitions(
        assets=[push_plan]).resolve_asset_graph())
    return job.execute_in_process(instance=instance).run_id


def test_push_after_plan_pushes_a_plan_rebuilt_outside_a_sync_once() -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert push_after_plan.job_name == PUSH_JOB_NAME
    nothing = push_after_plan.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert not nothing.run_requests

    by_hand = _plan_materialized_by("__ASSET_JOB", instance)
    tick = push_after_plan.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert [r.run_key for r in tick.run_requests] == [f"push-after-plan-{by_hand}"]
    again = push_after_plan.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
    assert not again.run_requests, "the same plan must not launch a second push"

    _plan_materialized_by(SYNC_JOB_NAME, instance)
    synced = push_after_plan.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
    assert not synced.run_requests and "pushes it itself" in (synced.skip_message or "")


@pytest.mark.parametrize("sensor", [sf_job_changes, record_run_failures, push_after_plan])
def test_sensors_have_descriptions(sensor: dg.SensorDefinition) -> None:
    assert sensor.description
