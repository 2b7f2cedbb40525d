"""Staged pushes on the sandbox: tenants and jobs that wait on a customer go out in the same run.

The first plan (``reconcile/push_plan``) can only plan the portfolio's customer; its tenant and
its work orders wait for that customer's SF id. `push_in_stages` plans them from the ledger
once the customer exists and sends them - still one row per source id, recorded before any
send, within the per-run safe-mode cap. Assertions read the sandbox's state and request log.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.ledger import LedgerState
from greenlight_dagster.core.plan import CustomerCandidate, HoldReason, WorkOrderCandidate
from greenlight_dagster.outbox.executor import ExecuteOptions
from greenlight_dagster.outbox.gateways import ServiceFusionGateway, customer_search
from greenlight_dagster.outbox.planning import StagedPush, push_in_stages, record_push_plan
from greenlight_dagster.warehouse.candidates import Candidates
from greenlight_dagster.warehouse.ledger_store import LedgerStore

from .sandbox_world import SEND_ALL, Sandbox, job_candidates

pytestmark = pytest.mark.integration

PORTFOLIO = {"id": 2, "name": "Maple Realty"}
TENANT = {"id": 500, "firstName": "Ana", "lastName": "Ruiz", "email": "ana@example.com"}
WAITING_WORK_ORDERS = (9000, 9001)



def customer_candidates() -> list[CustomerCandidate]:
    """The portfolio SF lacks, and its lease tenant (no parent customer in the warehouse yet)."""
    return [CustomerCandidate("portfolio", PORTFOLIO),
            CustomerCandidate("tenant", TENANT, contacts=(TENANT,), portfolio_id=2)]


def work_order_candidates(push_world: Sandbox) -> list[WorkOrderCandidate]:
    """Work orders of the new portfolio: the warehouse maps no customer for them yet."""
    return [replace(c, customer=None, portfolio_id=2) for c in job_candidates(push_world, WAITING_WORK_ORDERS)]


def first_plan(store: LedgerStore, push_world: Sandbox, flags: SyncFlags, run_id: str) -> None:
    """What ``reconcile/push_plan`` records at the start of the run."""
    candidates = Candidates(work_orders=work_order_candidates(push_world), customers=customer_candidates())
    record_push_plan(store, flags, candidates, run_id=run_id, now=datetime.now(UTC))


def push(store: LedgerStore, push_world: Sandbox, flags: SyncFlags, operation: str, run_id: str,
         waiting: Candidates) -> StagedPush:
    """One push step of the run (``push/sf_customers`` or ``push/sf_jobs``), as the asset runs it."""
    client = push_world.sf_client()
    gateway = ServiceFusionGateway(client, customer_search=customer_search(client))

    def options() -> ExecuteOptions:
        used = store.count_claimed(run_id, ("create_customer", "create_job"))
        cap = max(0, flags.safe_mode_max_creates - used) if flags.safe_mode else None
        return ExecuteOptions(max_claims=cap, orphan_grace=timedelta(0))

    return push_in_stages(store, gateway, flags, (operation,), run_id=run_id, waiting=lambda: waiting,
                          options=options)


def sync(store: LedgerStore, push_world: Sandbox, flags: SyncFlags = SEND_ALL, run_id: str = "run-1") -> dict[str, Any]:
    """Plan, then push customers and jobs, as one ``sync`` run does (minus ingest and dbt)."""
    first_plan(store, push_world, flags, run_id)
    customers = push(store, push_world, flags, "create_customer", run_id, Candidates(customers=customer_candidates()))
    jobs = push(store, push_world, flags, "create_job", run_id,
                Candidates(work_orders=work_order_candidates(push_world)))
    return {"customers": customers, "jobs": jobs}


def sf_customer(push_world: Sandbox, name: str) -> dict[str, Any]:
    matches = [c for c in push_world.state.snapshot()["servicefusion"]["customers"] if c["customer_name"] == name]
    assert len(matches) == 1, f"{len(matches)} SF customers named {name!r}"
    return matches[0]


def test_one_run_creates_the_parent_then_its_tenant_and_jobs(store: LedgerStore, push_world: Sandbox) -> None:
    pushed = sync(store, push_world)
    maple = sf_customer(push_world, "Maple Realty")
    assert sf_customer(push_world, "Ana Ruiz")["parent_customer"] == "Maple Realty"
    assert {wo: [j["customer_id"] for j in push_world.jobs_for(wo)] for wo in WAITING_WORK_ORDERS} == {
        wo: [maple["id"]] for wo in WAITING_WORK_ORDERS}
    assert pushed["customers"].report.counts["created"] == 2 and pushed["customers"].follow_up_planned == 1
    assert pushed["jobs"].report.counts["created"] == 2 and pushed["jobs"].follow_up_planned == 2
    tenant_row = store.by_key("sf:create_customer:tenant-500")
    assert tenant_row is not None and tenant_row.payload["parent_customer"] == maple["id"], (
        "the tenant is sent with the parent's id from the ledger, not a guess by name")


def test_the_next_run_sends_nothing(store: LedgerStore, push_world: Sandbox) -> None:
    sync(store, push_world)
    posts = len(push_world.requests("POST", "/customers")), len(push_world.requests("POST", "/jobs"))
    assert posts == (2, 2)
    pushed = sync(store, push_world, run_id="run-2")
    assert (len(push_world.requests("POST", "/customers")), len(push_world.requests("POST", "/jobs"))) == posts
    assert pushed["jobs"].follow_up_planned == 0 and pushed["customers"].follow_up_planned == 0
    assert {e.state for e in store.entries()} == {LedgerState.DONE}


def test_the_safe_mode_cap_counts_every_create_of_the_run(store: LedgerStore, push_world: Sandbox) -> None:
    flags = replace(SEND_ALL, safe_mode=True, safe_mode_max_creates=2)
    pushed = sync(store, push_world, flags)
    assert len(push_world.requests("POST", "/customers")) == 2 and push_world.requests("POST", "/jobs") == []
    assert pushed["jobs"].follow_up_held == {HoldReason.SAFE_MODE_CAP.value: 2}
    assert store.entries(operations=["create_job"]) == [], "capped writes are held, not left planned"

    sync(store, push_world, flags, run_id="run-2")  # the next run has a fresh cap: the jobs go out once
    assert [len(push_world.jobs_for(wo)) for wo in WAITING_WORK_ORDERS] == [1, 1]


def test_a_dry_run_plans_only_the_parent_and_sends_nothing(store: LedgerStore, push_world: Sandbox) -> None:
    pushed = sync(store, push_world, SyncFlags(dry_run=True, enable_service_fusion=True, safe_mode=False))
    assert [r for r in push_world.state.request_log()
            if r["method"] == "POST" and r["operation"] != "/oauth/access_token"
            ] == []
    assert [e.idempotency_key for e in store.entries()] == ["sf:create_customer:portfolio-2"]
    assert pushed["customers"].follow_up_planned == pushed["jobs"].follow_up_planned == 0


def test_concurrent_job_pushes_create_one_job_per_work_order(store: LedgerStore, push_world: Sandbox) -> None:
    first_plan(store, push_world, SEND_ALL, "run-1")
    push(store, push_world, SEND_ALL, "create_customer", "run-1", Candidates(customers=customer_candidates()))
    waiting = Candidates(work_orders=work_order_candidates(push_world))
    errors: list[BaseException] = []

    def run(run_id: str) -> None:
        try:
            push(store, push_world, SEND_ALL, "create_job", run_id, waiting)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"run-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [len(push_world.jobs_for(wo)) for wo in WAITING_WORK_ORDERS] == [1, 1]
    assert len(push_world.requests("POST", "/jobs")) == len(WAITING_WORK_ORDERS)
