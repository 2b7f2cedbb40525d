"""The push plan: every candidate becomes a write or a held-back item with a reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.ledger import Claim, ErrorClass, Failed, LedgerEntry, LedgerState, next_transition
from greenlight_dagster.core.plan import (
    CustomerCandidate,
    HoldReason,
    PlannedWrite,
    ProgressCandidate,
    WorkOrderCandidate,
    build_push_plan,
    job_changes,
    reverify_work_order,
)
from greenlight_dagster_tests.factories import pw_work_order

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
BUILDING = {"id": 10, "multiUnit": True,
            "address": {"address": "12 Oak St", "city": "Austin", "stateRegion": "TX", "postalCode": "78701"}}
UNIT = {"id": 100, "buildingID": 10, "name": "Unit A"}
CUSTOMER = {"id": 7000, "customer_name": "Oak Holdings"}
FLAGS = SyncFlags(dry_run=False, enable_service_fusion=True, safe_mode=False)


def work_order(wid: int = 9000, hours: int = 0, **fields: Any) -> dict[str, Any]:
    defaults = {"description": f"Kitchen sink leaking #{wid}",
                "createdDateTime": (T0 + timedelta(hours=hours)).isoformat()}
    return pw_work_order(wid, **(defaults | fields))


def candidate(wid: int = 9000, hours: int = 0, **kwargs: Any) -> WorkOrderCandidate:
    fields = kwargs.pop("fields", {})
    args: dict[str, Any] = {"customer": CUSTOMER, "unit": UNIT, "building": BUILDING, **kwargs}
    return WorkOrderCandidate(work_order(wid, hours, **fields), **args)


def held(plan: Any) -> dict[str, HoldReason]:
    return {h.source_id: h.reason for h in plan.held_back}


def test_one_create_per_open_work_order() -> None:
    plan = build_push_plan(FLAGS, work_orders=[candidate()])
    assert len(plan.writes) == 1 and not plan.held_back
    write = plan.writes[0]
    assert (write.target, write.operation, write.source_id, write.idempotency_key) == (
        "sf", "create_job", "9000", "sf:create_job:9000")
    assert write.payload["po_number"] == "PW-9000" and write.payload["status"] == "Unscheduled"
    assert write.is_create
    assert [source for source, _ in plan.decisions] == ["9000"]


@pytest.mark.parametrize(
    ("cand", "reason"),
    [(candidate(fields={"status": "Completed"}), HoldReason.STATUS_NOT_OPEN),
     (candidate(routing_ok=False, routing_reason="unit column holds building id 10"), HoldReason.UNIT_ROUTING),
     (candidate(customer=None), HoldReason.UNMAPPED_CUSTOMER),
     (candidate(building={"id": 10}), HoldReason.PAYLOAD_ERROR),
     (candidate(fields={"id": "x"}), HoldReason.PAYLOAD_ERROR)],
)
def test_hold_reasons(cand: WorkOrderCandidate, reason: HoldReason) -> None:
    plan = build_push_plan(FLAGS, work_orders=[cand])
    assert plan.writes == ()
    assert [h.reason for h in plan.held_back] == [reason]
    assert plan.held_back[0].detail


def test_unit_routing_reason_is_kept() -> None:
    plan = build_push_plan(FLAGS, work_orders=[candidate(routing_ok=False, routing_reason="unit 5 not in building")])
    assert plan.held_back[0].detail == "unit 5 not in building"


def test_open_status_without_sf_mapping_is_held() -> None:
    flags = replace(FLAGS, pw_open_statuses=("Open", "Needs Vendor", "Scheduled", "In Progress"))
    plan = build_push_plan(flags, work_orders=[candidate(fields={"status": "Needs Vendor"})])
    assert held(plan) == {"9000": HoldReason.UNMAPPED_STATUS}


def test_open_list_flag_decides() -> None:
    flags = replace(FLAGS, pw_open_statuses=("WO Received", "Scheduled", "In Progress"))
    plan = build_push_plan(flags, work_orders=[candidate(9000), candidate(9001, fields={"status": "WO Received"})])
    assert [w.source_id for w in plan.writes] == ["9001"]
    assert held(plan) == {"9000": HoldReason.STATUS_NOT_OPEN}


def test_safe_mode_validation_and_cap() -> None:
    flags = replace(FLAGS, safe_mode=True, safe_mode_max_creates=2)
    cands = [candidate(9003, hours=3), candidate(9001, hours=1), candidate(9002, hours=2),
             candidate(9000, hours=0, fields={"description": ""})]
    plan = build_push_plan(flags, work_orders=cands)
    assert [w.source_id for w in plan.writes] == ["9001", "9002"]  # oldest first
    assert held(plan) == {"9000": HoldReason.SAFE_MODE_VALIDATION, "9003": HoldReason.SAFE_MODE_CAP}
    unlimited = build_push_plan(FLAGS, work_orders=cands)
    assert [w.source_id for w in unlimited.writes] == ["9000", "9001", "9002", "9003"]


def test_safe_mode_requires_customer_id() -> None:
    flags = replace(FLAGS, safe_mode=True)
    plan = build_push_plan(flags, work_orders=[candidate(customer={"customer_name": "Oak Holdings"})])
    assert held(plan) == {"9000": HoldReason.SAFE_MODE_VALIDATION}
    assert "by name" in plan.held_back[0].detail


def test_duplicate_candidate_listed_twice() -> None:
    plan = build_push_plan(FLAGS, work_orders=[candidate(), candidate()])
    assert len(plan.writes) == 1 and held(plan) == {"9000": HoldReason.DUPLICATE_CANDIDATE}


def test_existing_sf_job_is_a_duplicate() -> None:
    jobs = [{"id": 8000, "customer_id": 7000, "po_number": "9000", "description": "x"}]
    plan = build_push_plan(FLAGS, work_orders=[candidate(sf_jobs=jobs)])
    assert held(plan) == {"9000": HoldReason.DUPLICATE}
    assert plan.decisions[0][1].criterion == "cross_system_id"


def ledger_entry(plan_write: PlannedWrite, state: LedgerState, **changes: Any) -> LedgerEntry:
    return replace(plan_write.ledger_entry(T0), state=state, **changes)


@pytest.mark.parametrize(
    ("state", "reason"),
    [(LedgerState.DONE, HoldReason.ALREADY_DONE), (LedgerState.SENDING, HoldReason.IN_FLIGHT),
     (LedgerState.FAILED, HoldReason.IN_FLIGHT), (LedgerState.DEAD, HoldReason.DEAD_LETTER),
     (LedgerState.ATTENTION, HoldReason.AWAITING_ATTENTION)],
)
def test_ledger_state_holds(state: LedgerState, reason: HoldReason) -> None:
    first = build_push_plan(FLAGS, work_orders=[candidate()]).writes[0]
    ledger = {first.idempotency_key: ledger_entry(first, state, target_id="8001")}
    plan = build_push_plan(FLAGS, work_orders=[candidate()], ledger=ledger)
    assert plan.writes == () and held(plan) == {"9000": reason}


def test_planned_ledger_entry_is_planned_again_with_the_same_key() -> None:
    dry = build_push_plan(SyncFlags(), work_orders=[candidate()])
    ledger = {w.idempotency_key: w.ledger_entry(T0) for w in dry.writes}
    real = build_push_plan(FLAGS, work_orders=[candidate(fields={"description": "edited"})], ledger=ledger)
    assert [w.idempotency_key for w in real.writes] == [w.idempotency_key for w in dry.writes]
    assert real.writes[0].payload["description"] == "edited"


def test_change_after_job_exists_becomes_attention_not_a_second_job() -> None:
    first = build_push_plan(FLAGS, work_orders=[candidate()]).writes[0]
    ledger = {first.idempotency_key: ledger_entry(first, LedgerState.DONE, target_id="8001")}
    plan = build_push_plan(FLAGS, work_orders=[candidate(fields={"description": "Sink AND dishwasher"})],
                           ledger=ledger)
    assert [w.operation for w in plan.writes] == ["attention"]
    attention = plan.writes[0]
    assert attention.payload["sf_job_id"] == "8001"
    assert attention.payload["changes"] == {"description": {"was": "Kitchen sink leaking #9000",
                                                            "now": "Sink AND dishwasher"}}
    assert attention.idempotency_key.startswith("sf:attention:9000:")
    assert attention.ledger_entry(T0).state is LedgerState.ATTENTION
    # planned again: the same attention row, now held while a person looks at it
    ledger[attention.idempotency_key] = attention.ledger_entry(T0)
    again = build_push_plan(FLAGS, work_orders=[candidate(fields={"description": "Sink AND dishwasher"})],
                            ledger=ledger)
    assert again.writes == () and held(again) == {"9000": HoldReason.AWAITING_ATTENTION}


def test_status_change_alone_needs_no_attention() -> None:
    first = build_push_plan(FLAGS, work_orders=[candidate()]).writes[0]
    ledger = {first.idempotency_key: ledger_entry(first, LedgerState.DONE, target_id="8001")}
    plan = build_push_plan(FLAGS, work_orders=[candidate(fields={"status": "Scheduled"})], ledger=ledger)
    assert plan.writes == () and held(plan) == {"9000": HoldReason.ALREADY_DONE}


def test_job_changes_ignores_status() -> None:
    assert job_changes({"status": "a", "x": 1}, {"status": "b", "x": 1}) == {}
    assert job_changes({"x": 1}, {"y": 2}) == {"x": {"was": 1, "now": None}, "y": {"was": None, "now": 2}}


PORTFOLIO = {"id": 2, "name": "Maple Realty LLC"}
SF_CUSTOMERS = [{"id": 7000, "customer_name": "Oak Holdings"}]


def test_customer_creates() -> None:
    plan = build_push_plan(FLAGS, customers=[
        CustomerCandidate("portfolio", {"id": 1, "name": "Oak Holdings, LLC"}, sf_customers=SF_CUSTOMERS),
        CustomerCandidate("portfolio", PORTFOLIO, sf_customers=SF_CUSTOMERS),
        CustomerCandidate("portfolio", PORTFOLIO, sf_customers=SF_CUSTOMERS),
        CustomerCandidate("tenant", {"id": 500, "firstName": "Ana", "lastName": "Ruiz"}),
        CustomerCandidate("portfolio", {"name": "No Id"}),
    ])
    assert [(w.operation, w.source_id) for w in plan.writes] == [("create_customer", "portfolio-2")]
    assert plan.writes[0].idempotency_key == "sf:create_customer:portfolio-2"
    assert held(plan) == {"portfolio-1": HoldReason.ALREADY_MAPPED, "portfolio-2": HoldReason.DUPLICATE_CANDIDATE,
                          "tenant-500": HoldReason.PAYLOAD_ERROR, "portfolio-unknown": HoldReason.PAYLOAD_ERROR}
    assert "7000 (normalized" in plan.held_back[0].detail


def test_customer_already_created_by_us() -> None:
    first = build_push_plan(FLAGS, customers=[CustomerCandidate("portfolio", PORTFOLIO)]).writes[0]
    ledger = {first.idempotency_key: ledger_entry(first, LedgerState.DONE)}
    plan = build_push_plan(FLAGS, customers=[CustomerCandidate("portfolio", {**PORTFOLIO, "name": "Renamed"})],
                           ledger=ledger)
    assert plan.writes == () and held(plan) == {"portfolio-2": HoldReason.ALREADY_DONE}


def test_customer_creates_count_toward_the_cap_and_come_first() -> None:
    flags = replace(FLAGS, safe_mode=True, safe_mode_max_creates=1)
    plan = build_push_plan(flags, work_orders=[candidate()], customers=[CustomerCandidate("portfolio", PORTFOLIO)])
    assert [w.operation for w in plan.writes] == ["create_customer"]
    assert held(plan) == {"9000": HoldReason.SAFE_MODE_CAP}


SF_JOB = {"id": 8000, "number": "41", "status": "Completed", "closed_at": "2026-01-06T15:00:00Z",
          "tech_notes": "Replaced trap"}


def test_progress_writes_to_pw() -> None:
    plan = build_push_plan(FLAGS, progress=[
        ProgressCandidate(SF_JOB, work_order(9001)),
        ProgressCandidate({**SF_JOB, "status": "On Site", "tech_notes": ""}, work_order(9000)),
        ProgressCandidate({**SF_JOB, "status": "Unscheduled", "tech_notes": ""}, work_order(9002)),
        ProgressCandidate({**SF_JOB, "status": "Mystery"}, work_order(9003)),
        ProgressCandidate(SF_JOB, work_order(9004, status="Closed"), status_category="Closed Jobs"),
    ])
    assert [(w.target, w.operation, w.source_id) for w in plan.writes] == [
        ("pw", "update_work_order", "9000"), ("pw", "close_work_order", "9001"), ("pw", "attach_note", "9001"),
        ("pw", "attach_note", "9004"),
    ]
    assert held(plan) == {"9003": HoldReason.UNMAPPED_STATUS}
    assert plan.writes[1].idempotency_key.startswith("pw:close_work_order:9001:")


def test_progress_already_done_in_ledger() -> None:
    first = build_push_plan(FLAGS, progress=[ProgressCandidate({**SF_JOB, "tech_notes": ""}, work_order())]).writes[0]
    ledger = {first.idempotency_key: ledger_entry(first, LedgerState.DONE)}
    plan = build_push_plan(FLAGS, progress=[ProgressCandidate({**SF_JOB, "tech_notes": ""}, work_order())],
                           ledger=ledger)
    assert plan.writes == () and held(plan) == {"9000": HoldReason.ALREADY_DONE}


def test_progress_bad_work_order() -> None:
    plan = build_push_plan(FLAGS, progress=[ProgressCandidate(SF_JOB, {"status": "Open"})])
    assert held(plan) == {"unknown": HoldReason.PAYLOAD_ERROR}


def test_dry_run_plans_exactly_what_a_real_run_does() -> None:
    cands = [candidate(9000 + i, hours=i) for i in range(5)] + [candidate(9100, customer=None)]
    dry = build_push_plan(SyncFlags(safe_mode=False), work_orders=cands)
    real = build_push_plan(FLAGS, work_orders=cands)
    assert dry.writes == real.writes and dry.held_back == real.held_back
    assert all(not row["will_send"] for row in dry.preview_rows())
    assert [row["will_send"] for row in real.preview_rows()] == [True] * 5 + [False]


def test_preview_and_summary() -> None:
    plan = build_push_plan(replace(FLAGS, enable_service_fusion=False),
                           work_orders=[candidate(), candidate(9001, customer=None)],
                           progress=[ProgressCandidate({**SF_JOB, "tech_notes": ""}, work_order(9002))])
    rows = plan.preview_rows()
    assert [(r["action"], r["operation"], r["will_send"]) for r in rows] == [
        ("write", "create_job", False), ("write", "close_work_order", True), ("hold", "create_job", False)]
    assert "po_number=PW-9000" in rows[0]["detail"]
    assert rows[2]["detail"].startswith("unmapped_customer:")
    assert plan.summary() == {"held.unmapped_customer": 1, "pw.close_work_order": 1, "sf.create_job": 1}


def test_reverify_work_order() -> None:
    planned = work_order()
    assert reverify_work_order(planned, planned, FLAGS) is None
    assert "no longer exists" in (reverify_work_order(None, planned, FLAGS) or "")
    assert "Closed" in (reverify_work_order({**planned, "status": "Closed"}, planned, FLAGS) or "")
    assert "unitID" in (reverify_work_order({**planned, "unitID": 101}, planned, FLAGS) or "")


def test_planned_write_ledger_entry() -> None:
    write = build_push_plan(FLAGS, work_orders=[candidate()]).writes[0]
    entry = write.ledger_entry(T0, run_id="run-9")
    assert (entry.state, entry.idempotency_key, entry.payload_hash, entry.run_id) == (
        LedgerState.PLANNED, write.idempotency_key, write.payload_hash, "run-9")
    sent = next_transition(next_transition(entry, Claim(T0)), Failed(T0, ErrorClass.PERMANENT, "422"))
    plan = build_push_plan(FLAGS, work_orders=[candidate()], ledger={sent.idempotency_key: sent})
    assert held(plan) == {"9000": HoldReason.DEAD_LETTER}


statuses = st.sampled_from(["Open", "WO Received", "Completed", "Scheduled", "Needs Vendor", "Awaiting Parts"])
candidate_strategy = st.builds(
    lambda wid, hours, status, routing, mapped, desc, portfolio: candidate(
        wid, hours, routing_ok=routing, customer=CUSTOMER if mapped else None, portfolio_id=portfolio,
        fields={"status": status, "description": desc}),
    st.integers(9000, 9015), st.integers(0, 48), statuses, st.booleans(), st.booleans(),
    st.sampled_from(["", "Leak", "Broken door"]), st.sampled_from([None, 3]),
)
portfolio_3_states = st.sampled_from([None, *LedgerState])


@settings(max_examples=60, deadline=None)
@given(st.lists(candidate_strategy, max_size=20), st.booleans(), st.integers(0, 6),
       st.lists(st.integers(9000, 9015), max_size=5), portfolio_3_states, st.booleans(), st.integers(0, 3))
def test_plan_invariants(cands: list[WorkOrderCandidate], safe_mode: bool, cap: int, done_ids: list[int],
                         portfolio_3: LedgerState | None, plan_portfolio_3: bool, run_creates: int) -> None:
    flags = replace(FLAGS, safe_mode=safe_mode, safe_mode_max_creates=cap)
    ledger = {f"sf:create_job:{i}": LedgerEntry.new("sf", "create_job", i, {}, now=T0) for i in done_ids}
    ledger = {k: replace(e, state=LedgerState.DONE) for k, e in ledger.items()}
    if portfolio_3 is not None:
        ledger.update(portfolio_create(portfolio_3, target_id="7009"))
    customers = [CustomerCandidate("portfolio", PORTFOLIO_3)] if plan_portfolio_3 else []
    plan = build_push_plan(flags, work_orders=cands, customers=customers, ledger=ledger, run_creates=run_creates)

    creates = Counter(w.source_id for w in plan.writes if w.operation == "create_job")
    assert all(n == 1 for n in creates.values()), "never two creates for one work order"
    assert not set(creates) & {str(i) for i in done_ids}, "never re-create what the ledger has done"
    assert len(plan.writes) + len(plan.held_back) == len(cands) + len(customers), "every candidate is accounted for"
    assert all(h.reason and h.detail for h in plan.held_back), "every held-back item has a reason"
    if safe_mode:
        assert sum(w.is_create for w in plan.writes) <= max(0, cap - run_creates), "the cap is per run"
    sent_to = {w.payload["customer_name"] for w in plan.writes if w.operation == "create_job"}
    assert sent_to <= {CUSTOMER["id"], 7009}, "a job goes to a mapped customer or one the ledger shows created"
    if 7009 in sent_to:
        assert portfolio_3 is LedgerState.DONE
    keys = [w.idempotency_key for w in plan.writes]
    assert len(keys) == len(set(keys))


# ---- customers created in the same run: the ledger is the freshest mapping ----

PORTFOLIO_3 = {"id": 3, "name": "Baker Rentals"}
TENANT = {"id": 500, "firstName": "Ana", "lastName": "Ruiz"}


def waiting_work_order(wid: int = 9000) -> WorkOrderCandidate:
    """A work order the warehouse cannot map yet: its building falls back to portfolio 3."""
    return candidate(wid, customer=None, portfolio_id=3)


def waiting_tenant() -> CustomerCandidate:
    return CustomerCandidate("tenant", TENANT, portfolio_id=3)


def portfolio_create(state: LedgerState, target_id: str | None = None) -> dict[str, LedgerEntry]:
    write = build_push_plan(FLAGS, customers=[CustomerCandidate("portfolio", PORTFOLIO_3)]).writes[0]
    return {write.idempotency_key: ledger_entry(write, state, target_id=target_id)}


def test_dependents_of_a_customer_planned_in_this_run_wait_for_it() -> None:
    plan = build_push_plan(FLAGS, customers=[waiting_tenant(), CustomerCandidate("portfolio", PORTFOLIO_3)],
                           work_orders=[waiting_work_order()])
    assert [w.source_id for w in plan.writes] == ["portfolio-3"]  # the portfolio first, whatever the input order
    assert held(plan) == {"tenant-500": HoldReason.AWAITING_CUSTOMER, "9000": HoldReason.AWAITING_CUSTOMER}
    assert {h.detail for h in plan.held_back} == {"waits for customer portfolio-3, planned in this run"}
    assert not plan.decisions, "no dedup decision before the customer is known"


def test_a_done_customer_create_in_the_ledger_maps_its_dependents() -> None:
    ledger = portfolio_create(LedgerState.DONE, target_id="7009")
    plan = build_push_plan(FLAGS, customers=[waiting_tenant()], work_orders=[waiting_work_order()], ledger=ledger)
    bodies = {w.source_id: w.payload for w in plan.writes}
    assert bodies["tenant-500"]["parent_customer"] == 7009
    assert bodies["9000"]["customer_name"] == 7009  # the id, as safe mode requires
    assert [w.idempotency_key for w in plan.writes] == ["sf:create_customer:tenant-500", "sf:create_job:9000"]
    assert [source for source, _ in plan.decisions] == ["9000"]


def test_the_same_work_order_gets_the_same_key_and_body_from_the_ledger_or_the_warehouse() -> None:
    from_ledger = build_push_plan(FLAGS, work_orders=[waiting_work_order()],
                                  ledger=portfolio_create(LedgerState.DONE, target_id="7009"))
    from_warehouse = build_push_plan(FLAGS, work_orders=[candidate(customer={"id": 7009, "customer_name": "Baker"})])
    assert from_ledger.writes == from_warehouse.writes


@pytest.mark.parametrize(("state", "waits"), [(LedgerState.SENDING, True), (LedgerState.FAILED, True),
                                              (LedgerState.DEAD, False), (LedgerState.PLANNED, False)])
def test_a_customer_create_still_in_flight_keeps_dependents_waiting(state: LedgerState, waits: bool) -> None:
    """In flight: a retry in this run may create it. Dead, or planned but not in this plan (it is
    withdrawn): nothing is coming, so the usual reason stands."""
    plan = build_push_plan(FLAGS, customers=[waiting_tenant()], work_orders=[waiting_work_order()],
                           ledger=portfolio_create(state))
    if waits:
        assert held(plan) == {"tenant-500": HoldReason.AWAITING_CUSTOMER, "9000": HoldReason.AWAITING_CUSTOMER}
        assert f"create is {state.value}" in plan.held_back[0].detail
    else:
        assert held(plan) == {"tenant-500": HoldReason.PAYLOAD_ERROR, "9000": HoldReason.UNMAPPED_CUSTOMER}


def test_the_warehouse_mapping_wins_over_the_ledger() -> None:
    ledger = portfolio_create(LedgerState.DONE, target_id="7009")
    plan = build_push_plan(FLAGS, work_orders=[candidate(portfolio_id=3)],
                           customers=[CustomerCandidate("tenant", TENANT, parent_customer=7000, portfolio_id=3)],
                           ledger=ledger)
    tenant, job = plan.writes
    assert tenant.payload["parent_customer"] == 7000 and job.payload["customer_name"] == 7000


def test_preview_shows_waiting_work_orders_as_holds_never_as_sends() -> None:
    plan = build_push_plan(SyncFlags(), customers=[CustomerCandidate("portfolio", PORTFOLIO_3)],
                           work_orders=[waiting_work_order()])
    rows = {row["source_id"]: row for row in plan.preview_rows()}
    assert rows["9000"]["action"] == "hold" and rows["9000"]["will_send"] is False
    assert rows["9000"]["detail"] == "awaiting_customer: waits for customer portfolio-3, planned in this run"
    assert rows["portfolio-3"]["action"] == "write"


def test_run_creates_count_toward_the_safe_mode_cap() -> None:
    flags = replace(FLAGS, safe_mode=True, safe_mode_max_creates=3)
    ledger = portfolio_create(LedgerState.DONE, target_id="7009")
    plan = build_push_plan(flags, work_orders=[waiting_work_order(9000 + i) for i in range(3)], ledger=ledger,
                           run_creates=2)
    assert [w.source_id for w in plan.writes] == ["9000"]
    assert held(plan) == {"9001": HoldReason.SAFE_MODE_CAP, "9002": HoldReason.SAFE_MODE_CAP}
