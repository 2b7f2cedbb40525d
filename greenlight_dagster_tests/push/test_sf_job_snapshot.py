"""The safe-mode check before first SF job creates from one bulk read per step (decision 0007).

A first attempt is checked against the jobs SF changed since ingest (one ``GET /jobs`` page)
instead of one ``po_number`` lookup per create; a job stamped in SF after ingest is still found,
and anything possibly sent before is still looked up on its own. Assertions read the sandbox.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.ledger import LedgerState
from greenlight_dagster.outbox.bulk_verify import SfJobSnapshot
from greenlight_dagster.outbox.executor import ExecuteOptions, ExecutionReport, execute
from greenlight_dagster.outbox.gateways import ServiceFusionGateway
from greenlight_dagster.warehouse.ledger_store import LedgerStore

from .sandbox_world import CUSTOMER_ID, SEND_ALL, WORK_ORDER_IDS, Sandbox, job_candidates, later, plan

pytestmark = pytest.mark.integration
SAFE = replace(SEND_ALL, safe_mode=True, safe_mode_max_creates=100)



def changed_since(push_world: Sandbox, mark: datetime) -> SfJobSnapshot:
    """The snapshot a push step builds after an ingest whose sf/jobs mark is ``mark`` (overlap left out)."""
    client = push_world.sf_client()
    return SfJobSnapshot(lambda: client.iter_records("jobs", modified_from=mark))


def push(push_world: Sandbox, store: LedgerStore, snapshot: SfJobSnapshot, flags: SyncFlags = SAFE,
         at: datetime | None = None) -> ExecutionReport:
    gateway = ServiceFusionGateway(push_world.sf_client(), job_snapshot=snapshot)
    return execute(store, gateway, flags, ("create_job",), run_id="push",
                   options=ExecuteOptions(orphan_grace=timedelta(0)), clock=(lambda: at) if at else later)


def job_reads(push_world: Sandbox) -> int:
    return len(push_world.requests("GET", "/jobs"))


def test_first_creates_cost_one_read_and_a_job_stamped_after_ingest_is_found(
        store: LedgerStore, push_world: Sandbox) -> None:
    plan(store, SAFE, work_orders=job_candidates(push_world))
    mark = push_world.state.now()  # ingest saw no job for these work orders
    by_hand = push_world.state.upsert("servicefusion", "jobs", {  # stamped in SF after ingest, before the push
        "number": "8900", "customer_id": CUSTOMER_ID, "customer_name": "Oak Holdings", "status": "Unscheduled",
        "category": "Plumbing", "po_number": "PW-9003"})

    report = push(push_world, store, changed_since(push_world, mark))
    assert job_reads(push_world) == 1, "one bulk read, no po_number lookup per create"
    assert {wo: len(push_world.jobs_for(wo)) for wo in WORK_ORDER_IDS} == dict.fromkeys(WORK_ORDER_IDS, 1)
    assert [j["id"] for j in push_world.jobs_for(9003)] == [by_hand["id"]]
    assert len(push_world.requests("POST", "/jobs")) == len(WORK_ORDER_IDS) - 1
    assert report.counts["found_by_lookup"] == 1
    assert store.by_key("sf:create_job:9003").target_id == str(by_hand["id"])  # type: ignore[union-attr]


def test_a_retry_is_looked_up_on_its_own_whatever_the_snapshot_says(store: LedgerStore, push_world: Sandbox) -> None:
    plan(store, SAFE, work_orders=job_candidates(push_world, (9000, 9001)))
    push_world.state.faults.add({"server": "sf", "operation": "POST /jobs", "kind": "commit_then_drop", "rate": 1.0})
    first = push(push_world, store, SfJobSnapshot(lambda: []))
    assert first.counts["failed"] == 2 and [len(push_world.jobs_for(wo)) for wo in (9000, 9001)] == [1, 1]
    push_world.state.faults.clear()
    posts, reads = len(push_world.requests("POST", "/jobs")), job_reads(push_world)

    stale = SfJobSnapshot(lambda: [])  # "nothing changed": wrong, and must not be asked
    second = push(push_world, store, stale, at=later(3))
    assert second.counts["found_by_lookup"] == 2 and second.counts["sent"] == 0
    assert len(push_world.requests("POST", "/jobs")) == posts
    assert job_reads(push_world) - reads == 2, "one po_number lookup per retried create"
    assert {e.state for e in store.entries()} == {LedgerState.DONE}


def test_snapshot_answers_only_what_its_read_can_vouch_for() -> None:
    def job(job_id: int, po_number: str) -> SourceRecord:
        return SourceRecord("jobs", job_id, None, {"id": job_id, "po_number": po_number})

    reads: list[int] = []

    def read() -> list[SourceRecord | RejectedRecord]:
        reads.append(1)
        return [job(2, "PW-9000"), job(1, "PW-9000"), job(3, "PW-90")]

    snapshot = SfJobSnapshot(read)
    assert snapshot.stamped_jobs(9000) == [1, 2] and snapshot.stamped_jobs(90) == [3]
    assert snapshot.stamped_jobs(9001) == [] and len(reads) == 1
    assert SfJobSnapshot(None).stamped_jobs(9000) is None  # no sf/jobs mark: per item
    unreadable = SfJobSnapshot(lambda: [job(1, "PW-1"), RejectedRecord("jobs", None, "no id", "{}")])
    assert unreadable.stamped_jobs(1) is None  # a job we cannot read may carry any stamp
    too_many = SfJobSnapshot(lambda: [job(i, f"PW-{i}") for i in range(1, 5)], max_changed=3)
    assert too_many.stamped_jobs(1) is None  # a stale mark: per item is the cheaper read
