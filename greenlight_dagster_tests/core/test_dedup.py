"""Duplicate detection before creates, and PW-side near duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenlight_dagster.core.dedup import (
    FuzzyParams,
    detect_duplicate,
    near_duplicate_work_orders,
    stamped_work_order_ids,
)
from greenlight_dagster.core.ledger import Claim, LedgerEntry, LedgerState, next_transition

T0 = datetime(2026, 1, 3, 9, tzinfo=UTC)
WO = {"id": 9000, "number": 1001, "buildingID": 10, "unitID": 100, "description": "Kitchen sink leaking",
      "createdDateTime": "2026-01-03T09:00:00Z"}
ADDRESS = {"street_1": "12 Oak St", "street_2": "Unit A", "postal_code": "78701"}


def job(jid: int, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": jid, "customer_id": 7000, "description": "Gutter cleaning", "po_number": None,
                            "check_number": None, "created_at": "2026-01-03T10:00:00Z", "street_1": "99 Pine Rd"}
    return {**base, **fields}


def test_no_candidates_is_distinct() -> None:
    decision = detect_duplicate(WO, [], customer_id=7000, address=ADDRESS)
    assert not decision.is_duplicate and decision.criterion == "fuzzy" and decision.score is None


def test_ledger_hit_beyond_planned() -> None:
    planned = LedgerEntry.new("sf", "create_job", 9000, {"a": 1}, now=T0)
    assert not detect_duplicate(WO, [], ledger_entry=planned).is_duplicate
    sending = next_transition(planned, Claim(T0))
    decision = detect_duplicate(WO, [job(8000, po_number="PW-9000")], ledger_entry=sending)
    assert decision.is_duplicate and decision.criterion == "ledger" and "sending" in decision.reason
    done = LedgerEntry(**{**planned.__dict__, "state": LedgerState.DONE, "target_id": "8123"})
    assert detect_duplicate(WO, [], ledger_entry=done).candidate_id == "8123"


@pytest.mark.parametrize("stamp", ["PW-9000", "pw-9000"])
def test_cross_system_id_on_po_number(stamp: str) -> None:
    decision = detect_duplicate(WO, [job(8001), job(8002, po_number=stamp)], customer_id=7000)
    assert decision.is_duplicate and decision.criterion == "cross_system_id" and decision.candidate_id == "8002"
    assert decision.score == 1.0


@pytest.mark.parametrize("stamp", ["9000", " 9000 "])
def test_bare_po_number_holds_only_on_the_same_customers_job(stamp: str) -> None:
    """A bare number never links (decision 0012): another customer's job whose PO happens to be the
    work order id is unrelated; on the same customer's job it may be an older system's stamp, so a
    person decides instead of a second job being created."""
    same = detect_duplicate(WO, [job(8002, po_number=stamp)], customer_id=7000)
    assert same.is_duplicate and "without our PW- stamp" in same.reason
    assert stamped_work_order_ids(job(8002, po_number=stamp)) == set()
    assert not detect_duplicate(WO, [job(8003, po_number=stamp, customer_id=7999)], customer_id=7000).is_duplicate
    assert not detect_duplicate(WO, [job(8004, po_number="PW 9000")], customer_id=7000).is_duplicate


def test_conflicting_stamps_name_both_work_orders() -> None:
    conflicting = job(8005, po_number="PW-9000", custom_fields=[{"name": "PW Work Order ID", "value": "9001"}])
    assert stamped_work_order_ids(conflicting) == {9000, 9001}


def test_partial_po_number_match_is_not_a_hit() -> None:
    """SF's po_number filter is partial: "9000" also returns "PW-19000"; compare exactly."""
    decision = detect_duplicate(WO, [job(8002, po_number="PW-19000"), job(8003, po_number="90001")], customer_id=7000)
    assert not decision.is_duplicate


def test_cross_system_id_in_custom_field() -> None:
    stamped = job(8004, custom_fields=[{"name": "Other", "value": "9000"}, {"name": "pw work order id", "value": 9000}])
    assert stamped_work_order_ids(stamped) == {9000}
    assert detect_duplicate(WO, [stamped]).criterion == "cross_system_id"


def test_check_number_only_counts_for_the_same_customer() -> None:
    same = job(8005, check_number="1001")
    other = job(8006, check_number="WO-1001", customer_id=7999)
    assert detect_duplicate(WO, [same], customer_id=7000).criterion == "cross_system_id"
    assert detect_duplicate(WO, [job(8005, check_number="WO-1001")], customer_id=7000).is_duplicate
    assert not detect_duplicate(WO, [other], customer_id=7000).is_duplicate
    assert not detect_duplicate(WO, [same]).is_duplicate  # customer unknown: no check_number matching


def test_fuzzy_same_customer_similar_description_within_window() -> None:
    hand_made = job(8007, description="kitchen sink is leaking", created_at="2026-01-04T09:00:00Z")
    decision = detect_duplicate(WO, [hand_made], customer_id=7000)
    assert decision.is_duplicate and decision.criterion == "fuzzy" and decision.candidate_id == "8007"
    assert decision.score is not None and decision.score >= 0.85
    assert "same customer" in decision.reason


def test_fuzzy_same_address_other_customer() -> None:
    hand_made = job(8008, customer_id=1, description="Kitchen sink leaking!", street_1="12 Oak Street",
                    street_2="unit a", postal_code="78701")
    decision = detect_duplicate(WO, [hand_made], customer_id=7000, address=ADDRESS)
    assert decision.is_duplicate and "same address" in decision.reason


def test_fuzzy_outside_window_is_distinct() -> None:
    late = job(8009, description="Kitchen sink leaking", created_at="2026-01-07T09:00:01Z")
    decision = detect_duplicate(WO, [late], customer_id=7000)
    assert not decision.is_duplicate and decision.score == 1.0 and decision.candidate_id == "8009"
    assert detect_duplicate(WO, [late], customer_id=7000, params=FuzzyParams(window=timedelta(days=5))).is_duplicate


def test_fuzzy_needs_creation_times() -> None:
    undated = job(8010, description="Kitchen sink leaking", created_at=None)
    assert not detect_duplicate(WO, [undated], customer_id=7000).is_duplicate
    assert not detect_duplicate({**WO, "createdDateTime": None}, [job(8011, description="Kitchen sink leaking")],
                                customer_id=7000).is_duplicate


def test_fuzzy_ignores_unrelated_customers_and_addresses() -> None:
    elsewhere = job(8012, customer_id=1, description="Kitchen sink leaking")
    decision = detect_duplicate(WO, [elsewhere], customer_id=7000, address=ADDRESS)
    assert not decision.is_duplicate and decision.candidate_id is None


def test_fuzzy_ignores_jobs_stamped_with_other_work_orders() -> None:
    other = job(8013, description="Kitchen sink leaking", po_number="PW-9001")
    assert not detect_duplicate(WO, [other], customer_id=7000).is_duplicate


def test_dissimilar_description_is_distinct_with_best_score() -> None:
    decision = detect_duplicate(WO, [job(8014), job(8015, description="Kitchen faucet dripping")], customer_id=7000)
    assert not decision.is_duplicate and decision.candidate_id == "8015" and decision.score is not None
    assert decision.score < 0.85


def test_threshold_is_a_parameter() -> None:
    close = job(8016, description="Kitchen sink leaks")
    strict, loose = FuzzyParams(description_threshold=0.99), FuzzyParams(description_threshold=0.5)
    assert not detect_duplicate(WO, [close], customer_id=7000, params=strict).is_duplicate
    assert detect_duplicate(WO, [close], customer_id=7000, params=loose).is_duplicate


def test_log_row() -> None:
    decision = detect_duplicate(WO, [job(8002, po_number="PW-9000")])
    row = decision.as_log_row("sf", 9000, "run-1")
    assert row == {"run_id": "run-1", "target": "sf", "source_id": "9000", "candidate_id": "8002",
                   "criterion": "cross_system_id", "score": 1.0, "decision": "duplicate", "reason": decision.reason}
    assert detect_duplicate(WO, []).as_log_row("sf", 9000)["decision"] == "distinct"


@given(st.lists(st.integers(min_value=1, max_value=20000), max_size=8))
def test_only_the_own_stamp_is_a_cross_system_hit(stamps: list[int]) -> None:
    jobs = [job(8100 + i, po_number=f"PW-{s}") for i, s in enumerate(stamps)]
    decision = detect_duplicate(WO, jobs)
    assert (decision.criterion == "cross_system_id") == (9000 in stamps)


def wo(wid: int, hours: float, description: str, unit: int | None = 100, building: int = 10) -> dict[str, Any]:
    return {"id": wid, "buildingID": building, "unitID": unit, "description": description,
            "createdDateTime": (T0 + timedelta(hours=hours)).isoformat()}


def test_near_duplicate_work_orders() -> None:
    found = near_duplicate_work_orders([
        wo(1, 0, "Kitchen sink leaking"),
        wo(2, 3, "kitchen sink leaking again"),      # same unit, similar, 3 h later -> duplicate of 1
        wo(3, 5, "Kitchen sink leaking", unit=101),  # other unit
        wo(4, 50, "Kitchen sink leaking"),            # too late
        wo(5, 4, "Broken window"),                    # dissimilar
        wo(6, 6, "Kitchen sink leaking"),             # duplicate of 1 (earliest), reported once
        {"id": 7, "description": "no date"},
    ])
    assert [(d.work_order_id, d.duplicate_of) for d in found] == [(2, 1), (6, 1)]
    assert found[0].score >= 0.85 and "unit 100" in found[0].reason


def test_near_duplicates_on_buildings_without_units() -> None:
    found = near_duplicate_work_orders([wo(1, 0, "Roof leak", unit=None), wo(2, 1, "roof leak", unit=None)])
    assert len(found) == 1 and "building 10" in found[0].reason


@given(st.lists(st.tuples(st.integers(0, 100), st.sampled_from(["sink leak", "roof", "door lock"])), max_size=12))
def test_near_duplicates_are_later_and_within_window(rows: list[tuple[int, str]]) -> None:
    orders = [wo(i + 1, h, d) for i, (h, d) in enumerate(rows)]
    by_id = {o["id"]: o for o in orders}
    found = near_duplicate_work_orders(orders)
    assert len({d.work_order_id for d in found}) == len(found)
    for d in found:
        later, earlier = by_id[d.work_order_id], by_id[d.duplicate_of]
        gap = datetime.fromisoformat(later["createdDateTime"]) - datetime.fromisoformat(earlier["createdDateTime"])
        assert timedelta(0) <= gap <= timedelta(hours=24)
        assert later["description"] == earlier["description"]


@pytest.mark.parametrize(("custom_fields", "expected"), [
    (True, set()), (7, set()), ("PW Work Order ID", set()), (None, set()),
    ({"name": "PW Work Order ID", "value": "9000"}, {9000}),  # one field sent bare, not in a list
    ([{"name": "PW Work Order ID", "value": "9000"}, "junk", None], {9000}),
])
def test_custom_fields_of_any_shape_give_stamps_or_none_and_never_raise(custom_fields: object,
                                                                         expected: set[int]) -> None:
    """SF answers are not trusted to be shaped as documented (a fuzz test sent ``custom_fields: true``)."""
    assert stamped_work_order_ids({"id": 8000, "custom_fields": custom_fields}) == expected
