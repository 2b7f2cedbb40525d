"""Strict verification from one bulk read per push step (`outbox.bulk_verify`) against the sandbox.

The guarantees of per-item strict verification must hold - a work order closed in PW after
ingest gets no SF job and no PW write - while the PW request log shows at most one
``getWorkOrders`` page and no ``getWorkOrder`` for writes no earlier attempt may have sent.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.outbox.bulk_verify import PlannedWorkOrders, WorkOrderSnapshot, bulk_work_order_verifier
from greenlight_dagster.outbox.executor import execute
from greenlight_dagster.outbox.gateways import ServiceFusionGateway
from greenlight_dagster.warehouse.ledger_store import LedgerStore

from .sandbox_world import (
    SEND_ALL,
    WORK_ORDER_IDS,
    Sandbox,
    ingested_snapshot,
    job_candidates,
    later,
    plan,
    progress_candidates,
    push_jobs,
    push_pw,
)

pytestmark = pytest.mark.integration
STRICT = replace(SEND_ALL, pw_verify_strict=True)
#: The bulk read of changed work orders: one page of changes, then an empty page, because a short
#: first page cannot tell the legacy service's page size (it is the service's, and no earlier full
#: page in this small world taught it to the client).
BULK_READ = 2



def pw_calls(push_world: Sandbox) -> dict[str, int]:
    ops = ("getWorkOrders", "getWorkOrder", "updateWorkOrder", "closeWorkOrder", "attachNoteToWorkOrder")
    return {op: len(push_world.pw_requests(op)) for op in ops}


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {op: after[op] - before[op] for op in after}


def test_a_job_create_for_a_work_order_closed_after_ingest_is_stopped(store: LedgerStore, push_world: Sandbox) -> None:
    candidates = {c.work_order["id"]: c for c in job_candidates(push_world, (9000, 9001))}
    plan(store, STRICT, work_orders=list(candidates.values()))
    snapshot = ingested_snapshot(push_world)
    push_world.state.patch("propertyware", "workOrders", 9001, {"status": "Completed"})
    before = pw_calls(push_world)
    verifier = bulk_work_order_verifier(snapshot, lambda wo_id: candidates[wo_id].work_order, STRICT)
    report = execute(store, ServiceFusionGateway(push_world.sf_client(), verifier=verifier), STRICT, ("create_job",),
                     run_id="strict")
    assert report.counts["created"] == 1 and report.counts["verification_failed"] == 1
    assert push_world.jobs_for(9001) == [] and len(push_world.jobs_for(9000)) == 1
    (letter,) = store.dead_letters()
    assert "strict verification" in letter.reason and "Completed" in letter.reason
    calls = delta(pw_calls(push_world), before)
    assert calls["getWorkOrders"] == BULK_READ and calls["getWorkOrder"] == 0


def _jobs_in_status(store: LedgerStore, push_world: Sandbox, wo_ids: tuple[int, ...], *, status: str = "Started",
                  operation: str = "update_work_order") -> None:
    """SF jobs for ``wo_ids``, all in ``status``: the plan then holds one PW ``operation`` each."""
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, wo_ids))
    push_jobs(store, push_world)
    for wo_id in wo_ids:
        push_world.state.patch("servicefusion", "jobs", push_world.jobs_for(wo_id)[0]["id"], {"status": status})
    progress = plan(store, STRICT, progress=progress_candidates(push_world))
    assert [w.operation for w in progress.writes] == [operation] * len(wo_ids)


def test_a_pw_update_for_a_work_order_closed_after_ingest_is_not_sent(store: LedgerStore, push_world: Sandbox) -> None:
    _jobs_in_status(store, push_world, (9000, 9001))
    snapshot = ingested_snapshot(push_world)
    push_world.state.patch("propertyware", "workOrders", 9001, {"status": "Completed"})
    before = pw_calls(push_world)
    report = push_pw(store, push_world, STRICT, snapshot=snapshot)
    assert report.counts["sent"] == 1 and report.counts["found_by_lookup"] == 1
    assert push_world.work_order(9001)["status"] == "Completed"
    calls = delta(pw_calls(push_world), before)
    assert calls["updateWorkOrder"] == 1 and calls["getWorkOrders"] == BULK_READ and calls["getWorkOrder"] == 0


def test_n_writes_without_pw_changes_cost_one_page_and_no_single_reads(store: LedgerStore, push_world: Sandbox) -> None:
    # one work order edited before ingest: the high-water mark moves past the others, which then
    # come from the warehouse, not from the bulk read
    push_world.state.patch("propertyware", "workOrders", 9004, {"description": "Kitchen sink leaking badly"})
    _jobs_in_status(store, push_world, WORK_ORDER_IDS)
    snapshot = ingested_snapshot(push_world)
    before = pw_calls(push_world)
    report = push_pw(store, push_world, STRICT, snapshot=snapshot)
    assert report.counts["sent"] == len(WORK_ORDER_IDS)
    calls = delta(pw_calls(push_world), before)
    assert calls == {"getWorkOrders": BULK_READ, "getWorkOrder": 0, "updateWorkOrder": len(WORK_ORDER_IDS),
                     "closeWorkOrder": 0, "attachNoteToWorkOrder": 0}
    assert all(push_world.work_order(wo_id)["status"] != "Open" for wo_id in WORK_ORDER_IDS)


def test_a_close_costs_one_pw_call(store: LedgerStore, push_world: Sandbox) -> None:
    """closeWorkOrder answers true or a fault; the work order is not read back after it (the push never used
    the re-read, and it was a quarter of a medium day's PW calls: 60 of 258)."""
    _jobs_in_status(store, push_world, WORK_ORDER_IDS, status="Completed", operation="close_work_order")
    snapshot = ingested_snapshot(push_world)
    before = pw_calls(push_world)
    report = push_pw(store, push_world, STRICT, snapshot=snapshot)
    assert report.counts["sent"] == len(WORK_ORDER_IDS)
    assert delta(pw_calls(push_world), before) == {"getWorkOrders": BULK_READ, "getWorkOrder": 0, "updateWorkOrder": 0,
                                                   "closeWorkOrder": len(WORK_ORDER_IDS), "attachNoteToWorkOrder": 0}
    assert all(push_world.work_order(wo_id)["status"] == "Completed" for wo_id in WORK_ORDER_IDS)


def test_a_retried_write_is_still_looked_up_on_its_own(store: LedgerStore, push_world: Sandbox) -> None:
    _jobs_in_status(store, push_world, (9000, 9001))
    push_world.state.faults.add({"server": "pw", "operation": "updateWorkOrder", "kind": "commit_then_drop",
                              "rate": 1.0})
    first = push_pw(store, push_world, STRICT, snapshot=ingested_snapshot(push_world))
    assert first.counts["failed"] == 2
    push_world.state.faults.clear()
    updates = len(push_world.pw_requests("updateWorkOrder"))
    before = pw_calls(push_world)
    # the snapshot is stale (taken before the dropped writes) and would say "not updated yet":
    # the retry must read PW itself and find the write that landed
    second = push_pw(store, push_world, STRICT, at=later(), snapshot=ingested_snapshot(push_world))
    assert second.counts["found_by_lookup"] == 2 and second.counts["sent"] == 0
    assert len(push_world.pw_requests("updateWorkOrder")) == updates
    assert delta(pw_calls(push_world), before)["getWorkOrder"] == 2


class _Reads:
    def __init__(self, changed: list[SourceRecord | RejectedRecord]) -> None:
        self.changed = changed
        self.gets: list[int] = []
        self.bulk = 0

    def get(self, wo_id: int) -> dict[str, Any] | None:
        self.gets.append(wo_id)
        return {"id": wo_id, "status": "PW"}

    def read_changed(self) -> list[SourceRecord | RejectedRecord]:
        self.bulk += 1
        return self.changed


def test_snapshot_sources() -> None:
    reads = _Reads([SourceRecord("work_orders", 1, None, {"id": 1, "status": "fresh"}),
                    RejectedRecord("work_orders", "2", "bad", "<x/>")])
    stored = {1: {"id": 1, "status": "stored"}, 2: {"id": 2, "status": "stored"}, 3: {"id": 3, "status": "stored"}}
    snapshot = WorkOrderSnapshot(get=reads.get, stored=stored.get, read_changed=reads.read_changed)
    assert snapshot.current(1) == {"id": 1, "status": "fresh"}      # changed since ingest
    assert snapshot.current(3) == {"id": 3, "status": "stored"}     # unchanged: the warehouse's
    assert snapshot.current(2) == {"id": 2, "status": "PW"}         # changed but unreadable: per item
    assert snapshot.current(4) == {"id": 4, "status": "PW"}         # unknown to the warehouse: per item
    snapshot.touched(3)
    assert snapshot.current(3) == {"id": 3, "status": "PW"}         # written by this step: per item
    assert reads.bulk == 1 and reads.gets == [2, 4, 3]

    unnamed = _Reads([RejectedRecord("work_orders", None, "no id", "<x/>")])
    snapshot = WorkOrderSnapshot(get=unnamed.get, stored=stored.get, read_changed=unnamed.read_changed)
    assert snapshot.current(3) == {"id": 3, "status": "PW"}         # cannot tell what changed: per item
    no_mark = _Reads([])
    snapshot = WorkOrderSnapshot(get=no_mark.get, stored=stored.get, read_changed=None)
    assert snapshot.current(3) == {"id": 3, "status": "PW"} and no_mark.bulk == 0


def test_planned_work_orders_are_read_once_per_step_and_a_missing_one_on_its_own() -> None:
    """The job candidates view costs a whole evaluation per query (2.3 s each at `large`): read it once."""
    reads: list[int] = []
    asked: list[int] = []

    def read_all() -> list[tuple[int, dict[str, Any]]]:
        reads.append(1)
        return [(9000, {"id": 9000, "status": "Open"}), (9001, {"id": 9001, "status": "Open"})]

    def get(wo_id: int) -> dict[str, Any] | None:
        asked.append(wo_id)
        return {"id": wo_id, "status": "Scheduled"} if wo_id == 9002 else None

    planned = PlannedWorkOrders(read_all, get)
    assert planned(9000) == {"id": 9000, "status": "Open"} and planned(9001) is not None
    assert planned(9002) == {"id": 9002, "status": "Scheduled"}, "a candidate the read did not see is asked for"
    assert planned(9003) is None
    assert reads == [1] and asked == [9002, 9003]
