"""A failed run and the context a run-failure sensor receives for it, for the tests of what failures record and tell.

No ``from __future__ import annotations``: Dagster reads the op's ``context`` annotation.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from greenlight_dagster.lib.lanes import Lane, run_lanes


@dataclass(frozen=True)
class FailedRun:
    """A one-op job ``doomed`` whose op ``explode`` raised; ``context`` is what `record_run_failures` is given."""

    run_id: str
    context: dg.RunFailureSensorContext


def failed_run(error: str, *, lanes: Sequence[Lane] = ()) -> FailedRun:
    """Run ``doomed`` on an ephemeral instance so that it fails with ``error`` (or, given ``lanes``, as a step
    that runs them fails: `lib.lanes`); the sensor context of that failure."""

    @dg.op
    def explode(context: dg.OpExecutionContext) -> None:
        if lanes:
            list(run_lanes(context.log, lanes))
        raise RuntimeError(error)

    @dg.job
    def doomed() -> None:
        explode()

    instance = dg.DagsterInstance.ephemeral()
    result = doomed.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="record_run_failures", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event()).for_run_failure()
    return FailedRun(result.run_id, context)
