"""A source record last modified in the year 9999 is kept and flagged, and never freezes the incremental reads.

Through the real path: Dagster runs of ``sf/jobs`` against the sandbox, rows and marks in the
session warehouse, the ``sf_job_changes`` sensor against the same sandbox.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import text

from greenlight_dagster.defs.automation.sensors import sf_job_changes
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.sandbox.state import SandboxState
from greenlight_dagster.warehouse.watermarks import set_high_water
from greenlight_dagster_tests.ingestion.fixtures_sandbox import (  # noqa: F401 - fixtures are used by name
    Ingest,
    ingest_fixture,
    metadata,
    modified,
    sandbox_records,
)

pytestmark = pytest.mark.integration

SF_JOBS = ("sf", "jobs")
FAR_FUTURE = "9999-12-31T23:59:59Z"


def plant_far_future(state: SandboxState, job_id: int) -> None:
    """Change a job as a technician would, then give it the far-future ``updated_at`` a broken import leaves."""
    state.patch("servicefusion", "jobs", job_id, {"description": "imported"})["updated_at"] = FAR_FUTURE


def test_a_far_future_job_is_loaded_and_flagged_and_later_changes_still_arrive(ingest: Ingest) -> None:
    ingest.run([SF_JOBS])
    jobs = sorted(sandbox_records(ingest.sandbox, *SF_JOBS))
    plant_far_future(ingest.sandbox.state, jobs[0])
    ingest.sandbox.state.set_clock(advance_seconds=3600)

    flagged = ingest.run([SF_JOBS])
    assert metadata(flagged, *SF_JOBS)["future_dated"] == 1
    mark = ingest.watermark(*SF_JOBS)
    assert mark is not None and mark < datetime.now(UTC) + timedelta(minutes=5)
    assert [r.payload["description"] for r in ingest.rows(*SF_JOBS) if r.run_id == flagged.run_id] == ["imported"]
    with ingest.engine.connect() as conn:
        logged = conn.execute(text("select source_key, severity, reason from ops.error_log where run_id = :run"),
                              {"run": flagged.run_id}).all()
    assert [(key, severity) for key, severity, _ in logged] == [(str(jobs[0]), "warning")]
    assert "9999-12-31" in logged[0][2]

    ingest.sandbox.state.set_clock(advance_seconds=3600)
    changed = ingest.sandbox.state.patch("servicefusion", "jobs", jobs[1], {"description": "rescheduled"})
    later = ingest.run([SF_JOBS])
    assert [r.source_id for r in ingest.rows(*SF_JOBS) if r.run_id == later.run_id] == [jobs[1]]
    assert ingest.watermark(*SF_JOBS) == modified(changed, "updated_at")


def test_a_mark_already_in_the_future_is_replaced_by_one_full_read(ingest: Ingest) -> None:
    ingest.run([SF_JOBS])
    newest = ingest.watermark(*SF_JOBS)
    set_high_water(ingest.engine, "sf", "jobs", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "broken-run")

    repaired = ingest.run([SF_JOBS])
    assert metadata(repaired, *SF_JOBS)["mode"] == "initial"
    assert ingest.watermark(*SF_JOBS) == newest


def _sf_resource(ingest: Ingest) -> ServiceFusionResource:
    env = ingest.sandbox.env()
    return ServiceFusionResource(base_url=env["GREENLIGHT_SF_BASE_URL"], token_url=env["GREENLIGHT_SF_TOKEN_URL"],
                                 client_id=env["GREENLIGHT_SF_CLIENT_ID"],
                                 client_secret=env["GREENLIGHT_SF_CLIENT_SECRET"], rate_limit_per_minute=6000)


def _evaluate(cursor: str | None, resource: ServiceFusionResource) -> tuple[Any, str | None]:
    context = dg.build_sensor_context(cursor=cursor, resources={"servicefusion": resource})
    return sf_job_changes(context), context.cursor


def test_the_sf_sensor_cursor_never_follows_a_far_future_job(ingest: Ingest) -> None:
    resource = _sf_resource(ingest)
    jobs = sorted(sandbox_records(ingest.sandbox, *SF_JOBS))
    _, cursor = _evaluate(None, resource)
    plant_far_future(ingest.sandbox.state, jobs[0])
    _, cursor_after = _evaluate(cursor, resource)
    assert cursor_after is not None and cursor_after < FAR_FUTURE[:4]  # still this era, not year 9999

    ingest.sandbox.state.patch("servicefusion", "jobs", jobs[1], {"status": "Completed"})
    request, moved = _evaluate(cursor_after, resource)
    assert isinstance(request, dg.RunRequest), "a later change must still request a sync"
    assert moved is not None and moved > cursor_after

    stuck, reset = _evaluate(FAR_FUTURE.replace("Z", "+00:00"), resource)  # a cursor a past tick left there
    assert isinstance(stuck, dg.SkipReason) and reset is not None and reset < FAR_FUTURE[:4]
