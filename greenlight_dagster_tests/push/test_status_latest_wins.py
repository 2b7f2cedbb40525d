"""PW ends in the status the latest SF data implies, once (issue 16 item 6, decision 0012).

Against the sandbox servers and the real ledger: an SF job goes Scheduled -> Started ->
Scheduled and PW follows all three (the payload-hash key held the third as already done); a
status write that failed, or was left in flight by a crash, never reaches PW after a newer one;
a dead status write newer SF data replaced is not replayed over it. Each SF state is a version
of the job, as the warehouse numbers them (``sync_pw_progress_updates.sf_version``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

import pytest

from greenlight_dagster.core.ledger import ErrorClass, Failed, LedgerState
from greenlight_dagster.core.plan import ProgressCandidate
from greenlight_dagster.outbox.replay import replay_dead_letters
from greenlight_dagster.warehouse.ledger_store import LedgerStore

from .sandbox_world import SEND_ALL, Sandbox, job_candidates, later, plan, push_jobs, push_pw

pytestmark = pytest.mark.integration
WO = 9000


@pytest.fixture
def world_with_a_job(store: LedgerStore, push_world: Sandbox) -> Sandbox:
    """The push world after the work order's SF job was created."""
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, (WO,)))
    push_jobs(store, push_world)
    return push_world


class Job:
    """The work order's SF job; each status change is a new version, as raw.sf_jobs lands it."""

    def __init__(self, world_with_a_job: Sandbox) -> None:
        self.world_with_a_job = world_with_a_job
        self.id = world_with_a_job.jobs_for(WO)[0]["id"]
        self.versions = count(1)
        self.version = 0

    def set(self, status: str) -> None:
        self.world_with_a_job.state.patch("servicefusion", "jobs", self.id, {"status": status})
        self.version = next(self.versions)

    def progress(self) -> list[ProgressCandidate]:
        snapshot = self.world_with_a_job.state.snapshot()
        job = next(j for j in snapshot["servicefusion"]["jobs"] if j["id"] == self.id)
        categories = {s["name"]: s["category"] for s in snapshot["servicefusion"]["job_statuses"]}
        return [ProgressCandidate(job, self.world_with_a_job.work_order(WO), categories.get(job["status"]),
                                  sf_version=self.version)]


def status_updates(store: LedgerStore) -> dict[str, LedgerState]:
    return {e.payload["status"] + f"@{e.payload.get('sfVersion')}": e.state
            for e in store.entries(operations=["update_work_order"])}


def test_a_status_that_goes_back_is_pushed_again(store: LedgerStore, world_with_a_job: Sandbox) -> None:
    job = Job(world_with_a_job)
    for status, pw_status in (("Scheduled", "Scheduled"), ("Started", "In Progress"), ("Scheduled", "Scheduled")):
        job.set(status)
        plan(store, SEND_ALL, progress=job.progress())
        push_pw(store, world_with_a_job)
        shown = world_with_a_job.work_order(WO)["status"]
        assert shown == pw_status, f"SF {status}: PW is {shown}"
    assert len(world_with_a_job.pw_requests("updateWorkOrder")) == 3

    plan(store, SEND_ALL, progress=job.progress())  # the same SF data again: nothing new to write
    push_pw(store, world_with_a_job, at=later())
    assert len(world_with_a_job.pw_requests("updateWorkOrder")) == 3


def test_a_failed_status_write_is_superseded_by_newer_sf_data(store: LedgerStore, world_with_a_job: Sandbox) -> None:
    job = Job(world_with_a_job)
    job.set("Started")
    plan(store, SEND_ALL, progress=job.progress())
    world_with_a_job.state.faults.add({"server": "pw", "operation": "updateWorkOrder", "kind": "error", "rate": 1.0})
    assert push_pw(store, world_with_a_job).counts["failed"] == 1
    world_with_a_job.state.faults.clear()
    failed_requests = len(world_with_a_job.pw_requests("updateWorkOrder"))

    job.set("Scheduled")  # the technician went back before the retry was due
    plan(store, SEND_ALL, progress=job.progress())
    assert status_updates(store) == {"In Progress@1": LedgerState.SUPERSEDED, "Scheduled@2": LedgerState.PLANNED}
    report = push_pw(store, world_with_a_job, at=later())
    assert report.counts["sent"] == 1
    assert world_with_a_job.work_order(WO)["status"] == "Scheduled"
    assert len(world_with_a_job.pw_requests("updateWorkOrder")) == failed_requests + 1


def test_a_status_write_left_in_flight_by_a_crash_never_lands_after_a_newer_one(
        store: LedgerStore, world_with_a_job: Sandbox) -> None:
    job = Job(world_with_a_job)
    job.set("Started")
    plan(store, SEND_ALL, progress=job.progress())
    with store.worker("crashed") as worker:  # claimed, never sent, never recorded: the run died
        claimed = worker.claim_next("pw", ("update_work_order",), now=datetime.now(UTC))
        assert claimed is not None and claimed[1].state is LedgerState.SENDING

    job.set("Scheduled")
    plan(store, SEND_ALL, progress=job.progress())  # cannot touch the in-flight row
    push_pw(store, world_with_a_job, at=later())  # the orphan is looked up (absent), then superseded at claim
    assert world_with_a_job.work_order(WO)["status"] == "Scheduled"
    assert len(world_with_a_job.pw_requests("updateWorkOrder")) == 1  # Scheduled only: In Progress never went out
    assert status_updates(store) == {"In Progress@1": LedgerState.SUPERSEDED, "Scheduled@2": LedgerState.DONE}

    push_pw(store, world_with_a_job, at=later(4))
    assert len(world_with_a_job.pw_requests("updateWorkOrder")) == 1


def test_a_dead_status_write_is_not_replayed_over_newer_state(store: LedgerStore, world_with_a_job: Sandbox) -> None:
    job = Job(world_with_a_job)
    job.set("Started")
    plan(store, SEND_ALL, progress=job.progress())
    with store.worker("refused") as worker:  # PW refused it for good
        _, sending = worker.claim_next("pw", ("update_work_order",), now=datetime.now(UTC)) or (None, None)
        assert sending is not None
        dead = worker.finish(sending, Failed(datetime.now(UTC), ErrorClass.PERMANENT, "SOAP client fault"))
    assert dead.state is LedgerState.DEAD and dead.id is not None

    job.set("Scheduled")
    plan(store, SEND_ALL, progress=job.progress())
    push_pw(store, world_with_a_job)
    assert world_with_a_job.work_order(WO)["status"] == "Scheduled"
    assert store.dead_letters() == []  # settled: newer SF data decides the status

    outcome = replay_dead_letters(store, ledger_ids=[dead.id], now=datetime.now(UTC))
    assert outcome.replayed == [] and "superseded by" in outcome.failures[0]
    push_pw(store, world_with_a_job, at=later())
    assert world_with_a_job.work_order(WO)["status"] == "Scheduled"
    assert len(world_with_a_job.pw_requests("updateWorkOrder")) == 1
