"""`lib.lanes`: the two APIs' work side by side in one step, results as they land, failures named at the end."""

from __future__ import annotations

import threading
from collections.abc import Callable

import dagster as dg
import pytest

from greenlight_dagster.lib.lanes import Lane, LaneLog, Task, failed_assets, run_lanes

#: Long enough for any machine to start the other lane; a test that waits this long has failed.
WAIT = 10.0


class RecordingLog:
    """A step log that notes each line and the thread that wrote it."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, threading.Thread]] = []

    def __getattr__(self, level: str) -> Callable[[str], None]:
        return lambda message: self.lines.append((level, message, threading.current_thread()))


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey(name.split("/"))


def done(name: str) -> Task:
    return Task(key(name), lambda log: dg.MaterializeResult(asset_key=key(name)))


def landed(results: list[dg.MaterializeResult]) -> list[str]:
    return [r.asset_key.to_user_string() for r in results if r.asset_key is not None]


def test_the_lanes_run_at_the_same_time() -> None:
    """Each lane's task waits for the other's: run one after the other, the first would time out."""
    pw_started, sf_started = threading.Event(), threading.Event()

    def meeting(name: str, mine: threading.Event, theirs: threading.Event) -> Task:
        def run(log: LaneLog) -> dg.MaterializeResult:
            mine.set()
            assert theirs.wait(WAIT), f"{name} ran alone"
            return dg.MaterializeResult(asset_key=key(name))
        return Task(key(name), run)

    results = list(run_lanes(RecordingLog(), [Lane("pw", [meeting("pw/units", pw_started, sf_started)]),
                                              Lane("sf", [meeting("sf/techs", sf_started, pw_started)])]))
    assert sorted(landed(results)) == ["pw/units", "sf/techs"]


def test_a_result_is_handed_over_as_soon_as_its_task_ends() -> None:
    """The SF lane's task waits until the step has yielded the PW lane's result."""
    handed_over = threading.Event()

    def waits_for_pw(log: LaneLog) -> dg.MaterializeResult:
        assert handed_over.wait(WAIT), "the PW result was held back until every lane ended"
        return dg.MaterializeResult(asset_key=key("sf/jobs"))

    seen = []
    for result in run_lanes(RecordingLog(), [Lane("pw", [done("pw/work_orders")]),
                                             Lane("sf", [Task(key("sf/jobs"), waits_for_pw)])]):
        seen.append(result)
        handed_over.set()
    assert landed(seen) == ["pw/work_orders", "sf/jobs"]


def test_only_the_steps_thread_writes_the_log_each_line_named_by_its_asset() -> None:
    def chatty(log: LaneLog) -> dg.MaterializeResult:
        log.info("read 3 pages")
        log.warning("1 record rejected")
        return dg.MaterializeResult(asset_key=key("pw/units"))

    log = RecordingLog()
    list(run_lanes(log, [Lane("pw", [Task(key("pw/units"), chatty)])]))
    assert [(level, message) for level, message, _ in log.lines] == [
        ("info", "pw/units: read 3 pages"), ("warning", "pw/units: 1 record rejected")]
    assert {thread for _, _, thread in log.lines} == {threading.current_thread()}


def boom(name: str) -> Task:
    def run(log: LaneLog) -> dg.MaterializeResult:
        raise ConnectionError(f"{name} hung up\nsecond line")
    return Task(key(name), run)


def test_a_failed_task_fails_the_step_at_the_end_after_the_rest_landed() -> None:
    log = RecordingLog()
    results: list[dg.MaterializeResult] = []
    with pytest.raises(dg.Failure) as failure:
        for result in run_lanes(log, [Lane("pw", [boom("pw/units"), done("pw/leases")]),
                                      Lane("sf", [done("sf/techs")])]):
            results.append(result)
    assert sorted(landed(results)) == ["pw/leases", "sf/techs"], "independent entities still land"
    assert failure.value.description == "pw/units: ConnectionError: pw/units hung up"
    assert isinstance(failure.value.__cause__, ConnectionError)
    assert failed_assets(failure.value.metadata) == {"pw/units": "ConnectionError: pw/units hung up"}
    assert any(level == "error" and "Traceback" in message for level, message, _ in log.lines)


def test_a_lane_that_stops_on_failure_does_not_run_what_needed_the_failed_task() -> None:
    ran = []

    def jobs(log: LaneLog) -> dg.MaterializeResult:
        ran.append("sf/jobs")
        return dg.MaterializeResult(asset_key=key("sf/jobs"))

    results: list[dg.MaterializeResult] = []
    with pytest.raises(dg.Failure) as failure:
        for result in run_lanes(RecordingLog(), [
                Lane("sf", [boom("push/sf_customers"), Task(key("sf/jobs"), jobs)], stops_on_failure=True),
                Lane("pw", [done("push/pw_work_orders")])]):
            results.append(result)
    assert ran == [] and landed(results) == ["push/pw_work_orders"]
    assert failed_assets(failure.value.metadata) == {
        "push/sf_customers": "ConnectionError: push/sf_customers hung up",
        "sf/jobs": "not run: push/sf_customers failed"}


def test_a_tasks_own_failure_metadata_reaches_the_step() -> None:
    def stopped(log: LaneLog) -> dg.MaterializeResult:
        raise dg.Failure("sf_jobs stopped: circuit open", metadata={"sent": 3})

    with pytest.raises(dg.Failure) as failure:
        list(run_lanes(RecordingLog(), [Lane("sf", [Task(key("push/sf_jobs"), stopped)])]))
    assert failure.value.metadata["push/sf_jobs sent"].value == 3


def test_a_step_that_stops_listening_ends_its_lanes_after_their_current_task() -> None:
    release, ran = threading.Event(), []

    def slow(log: LaneLog) -> dg.MaterializeResult:
        assert release.wait(WAIT)
        ran.append("pw/units")
        return dg.MaterializeResult(asset_key=key("pw/units"))

    def later(log: LaneLog) -> dg.MaterializeResult:
        ran.append("pw/leases")
        return dg.MaterializeResult(asset_key=key("pw/leases"))

    lanes = run_lanes(RecordingLog(), [Lane("sf", [done("sf/techs")]),
                                       Lane("pw", [Task(key("pw/units"), slow), Task(key("pw/leases"), later)])])
    assert landed([next(lanes)]) == ["sf/techs"]
    lanes.close()  # as a terminated run does: the generator is closed at its yield
    pw_thread = next(t for t in threading.enumerate() if t.name == "lane-pw")
    release.set()
    pw_thread.join(WAIT)
    assert ran == ["pw/units"], "a lane started its next task after the step stopped"


def test_failed_assets_of_any_other_failure_is_empty() -> None:
    assert failed_assets({}) == {}
    assert failed_assets({"failed_assets": dg.MetadataValue.text("x")}) == {}
    assert failed_assets({"failed_assets": dg.MetadataValue.json({"pw/units": "E: x"})}) == {"pw/units": "E: x"}
