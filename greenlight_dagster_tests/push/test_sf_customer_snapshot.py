"""The safe-mode check before first SF customer creates from one bulk read per step (decision 0008).

A first attempt is checked against the customers SF changed since ingest (one newest-first
``GET /customers`` read) instead of one name search per create; a customer stamped in SF after
ingest is still found - under our name or any other - and anything possibly sent before is
still looked up on its own. Assertions read the sandbox's state and request log.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.ledger import LedgerState
from greenlight_dagster.core.payloads import CUSTOMER_ID_FIELDS
from greenlight_dagster.core.plan import CustomerCandidate, build_push_plan
from greenlight_dagster.outbox.bulk_verify import SfCustomerSnapshot, customer_stamps
from greenlight_dagster.outbox.executor import ExecuteOptions, ExecutionReport, execute
from greenlight_dagster.outbox.gateways import ServiceFusionGateway, customer_search
from greenlight_dagster.warehouse.ledger_store import LedgerStore

from .sandbox_world import SEND_ALL, Sandbox, later

pytestmark = pytest.mark.integration
SAFE = replace(SEND_ALL, safe_mode=True, safe_mode_max_creates=100)
PORTFOLIOS = {2: "Birch Estates", 3: "Cedar Lane Owners", 4: "Elm Court Partners"}



def plan_portfolios(store: LedgerStore, ids: tuple[int, ...] = tuple(PORTFOLIOS)) -> None:
    """Customer creates for PW portfolios SF does not have (as `reconcile/push_plan` records them)."""
    candidates = [CustomerCandidate("portfolio", {"id": i, "name": PORTFOLIOS[i], "abbreviation": f"P{i}",
                                                  "active": True}) for i in ids]
    store.record_plan(build_push_plan(SAFE, customers=candidates).writes, now=datetime.now(UTC))


def changed_since(push_world: Sandbox, mark: datetime) -> SfCustomerSnapshot:
    """The snapshot a push step builds after an ingest whose sf/customers mark is ``mark`` (overlap left out)."""
    client = push_world.sf_client()
    return SfCustomerSnapshot(lambda: client.iter_records("customers", modified_from=mark))


def push(push_world: Sandbox, store: LedgerStore, snapshot: SfCustomerSnapshot | None, flags: SyncFlags = SAFE,
         at: datetime | None = None) -> ExecutionReport:
    client = push_world.sf_client()
    gateway = ServiceFusionGateway(client, customer_search=customer_search(client), customer_snapshot=snapshot)
    return execute(store, gateway, flags, ("create_customer",), run_id="push",
                   options=ExecuteOptions(orphan_grace=timedelta(0)), clock=(lambda: at) if at else later)


def customer_reads(push_world: Sandbox) -> int:
    return len(push_world.requests("GET", "/customers"))


def customers_stamped(push_world: Sandbox, portfolio_id: int) -> list[dict[str, Any]]:
    stamp = ("pw portfolio id", str(portfolio_id))
    return [c for c in push_world.state.snapshot()["servicefusion"]["customers"] if stamp in customer_stamps(c)]


def stamped_by_hand(push_world: Sandbox, portfolio_id: int, name: str) -> dict[str, Any]:
    """A customer another writer made in SF with our stamp (a second deployment, the old system)."""
    return push_world.state.upsert("servicefusion", "customers", {
        "customer_name": name, "parent_customer": None, "contacts": [], "locations": [],
        "custom_fields": [{"name": CUSTOMER_ID_FIELDS["portfolio"], "value": str(portfolio_id)}]})


def test_first_creates_cost_one_read_and_customers_stamped_after_ingest_are_found(
        store: LedgerStore, push_world: Sandbox) -> None:
    plan_portfolios(store)
    mark = push_world.state.now()  # ingest saw no customer for these portfolios
    same_name = stamped_by_hand(push_world, 3, PORTFOLIOS[3])
    renamed = stamped_by_hand(push_world, 4, "Elm Ct. Partners LLC")  # a name search for ours would miss it

    report = push(push_world, store, changed_since(push_world, mark))
    assert customer_reads(push_world) == 1, "one bulk read, no name search per create"
    assert {i: len(customers_stamped(push_world, i)) for i in PORTFOLIOS} == dict.fromkeys(PORTFOLIOS, 1)
    assert len(push_world.requests("POST", "/customers")) == 1
    assert report.counts["found_by_lookup"] == 2 and report.counts["sent"] == 1
    assert store.by_key("sf:create_customer:portfolio-3").target_id == str(same_name["id"])  # type: ignore[union-attr]
    assert store.by_key("sf:create_customer:portfolio-4").target_id == str(renamed["id"])  # type: ignore[union-attr]


def test_without_a_snapshot_each_first_create_is_searched_by_name(store: LedgerStore, push_world: Sandbox) -> None:
    """What the bulk read replaces (and what a step without an sf/customers mark still does)."""
    plan_portfolios(store)
    push(push_world, store, SfCustomerSnapshot(None))
    assert customer_reads(push_world) == len(PORTFOLIOS)
    assert {i: len(customers_stamped(push_world, i)) for i in PORTFOLIOS} == dict.fromkeys(PORTFOLIOS, 1)


def test_a_retry_is_looked_up_on_its_own_whatever_the_snapshot_says(store: LedgerStore, push_world: Sandbox) -> None:
    plan_portfolios(store, (2, 3))
    push_world.state.faults.add({"server": "sf", "operation": "POST /customers", "kind": "commit_then_drop",
                              "rate": 1.0})
    first = push(push_world, store, SfCustomerSnapshot(lambda: []))
    assert first.counts["failed"] == 2 and [len(customers_stamped(push_world, i)) for i in (2, 3)] == [1, 1]
    push_world.state.faults.clear()
    posts, reads = len(push_world.requests("POST", "/customers")), customer_reads(push_world)

    stale = SfCustomerSnapshot(lambda: [])  # "nothing changed": wrong, and must not be asked
    second = push(push_world, store, stale, at=later(3))
    assert second.counts["found_by_lookup"] == 2 and second.counts["sent"] == 0
    assert len(push_world.requests("POST", "/customers")) == posts
    assert customer_reads(push_world) - reads == 2, "one name search per retried create"
    assert {e.state for e in store.entries()} == {LedgerState.DONE}
    assert [len(customers_stamped(push_world, i)) for i in (2, 3)] == [1, 1]


def test_snapshot_answers_only_what_its_read_can_vouch_for() -> None:
    def customer(customer_id: int, field: str, value: str) -> SourceRecord:
        return SourceRecord("customers", customer_id, None, {"id": customer_id, "custom_fields": [
            {"name": field, "value": value}, {"name": "Gate code", "value": "1234"}]})

    reads: list[int] = []

    def read() -> list[SourceRecord | RejectedRecord]:
        reads.append(1)
        return [customer(2, "PW Tenant ID", "500001"), customer(1, " pw  TENANT id ", "500001"),
                customer(3, "PW Portfolio ID", "7")]

    snapshot = SfCustomerSnapshot(read)
    assert snapshot.stamped_customers(("pw tenant id", "500001")) == [1, 2]
    assert snapshot.stamped_customers(("pw portfolio id", "7")) == [3]
    assert snapshot.stamped_customers(("pw portfolio id", "500001")) == []  # a tenant id is not a portfolio id
    assert snapshot.stamped_customers(("pw tenant id", "1234")) == [] and len(reads) == 1
    assert SfCustomerSnapshot(None).stamped_customers(("pw portfolio id", "7")) is None  # no mark: per item
    unreadable = SfCustomerSnapshot(lambda: [customer(1, "PW Portfolio ID", "1"),
                                             RejectedRecord("customers", "9", "missing updated_at", "{}")])
    assert unreadable.stamped_customers(("pw portfolio id", "1")) is None  # it may carry any stamp
    too_many = SfCustomerSnapshot(lambda: [customer(i, "PW Portfolio ID", str(i)) for i in range(1, 5)],
                                  max_changed=3)
    assert too_many.stamped_customers(("pw portfolio id", "1")) is None  # a stale mark: per item is cheaper
