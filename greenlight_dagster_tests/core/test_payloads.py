"""Request bodies: SF job and customer creates, PW updates and notes."""

from __future__ import annotations

from typing import Any

import pytest

from greenlight_dagster.core.idempotency import payload_hash
from greenlight_dagster.core.payloads import (
    MAX_TEXT_LENGTH,
    PayloadError,
    PwWrite,
    build_customer_body,
    build_job_body,
    build_pw_note,
    build_pw_update,
    contact_body,
    location_fields,
    resolve_reference,
)
from greenlight_dagster.core.statuses import UnmappedStatusError

WO = {"id": 9000, "number": 1001, "portfolioID": 1, "buildingID": 10, "unitID": 100, "status": "Open",
      "priority": "HIGH", "type": "Service Request", "category": "Plumbing", "description": "  Kitchen sink leaking ",
      "createdDateTime": "2026-01-03T09:00:00Z"}
BUILDING: dict[str, Any] = {"id": 10, "name": "12 Oak St", "multiUnit": True,
            "address": {"address": "12 Oak St", "city": "Austin", "stateRegion": "TX", "postalCode": "78701"}}
UNIT = {"id": 100, "buildingID": 10, "name": "Unit A"}
CUSTOMER = {"id": 7000, "customer_name": "Oak Holdings"}


def test_job_body_full() -> None:
    body = build_job_body(WO, CUSTOMER, UNIT, BUILDING, "Unscheduled", "Plumbing")
    assert body == {
        "customer_name": 7000, "po_number": "PW-9000", "check_number": "1001", "status": "Unscheduled",
        "description": "Kitchen sink leaking", "priority": "High", "category": "Plumbing",
        "street_1": "12 Oak St", "street_2": "Unit A", "city": "Austin", "state_prov": "TX", "postal_code": "78701",
        "custom_fields": [{"name": "PW Work Order ID", "value": "9000"}],
    }


@pytest.mark.parametrize(("pw", "sf"), [("HIGH", "High"), ("medium", "Normal"), ("LOW", "Low"), ("URGENT", None),
                                        (None, None)])
def test_priority_mapping(pw: str | None, sf: str | None) -> None:
    body = build_job_body({**WO, "priority": pw}, CUSTOMER, UNIT, BUILDING, "Unscheduled", None)
    assert body.get("priority") == sf
    assert "category" not in body


def test_job_body_is_deterministic() -> None:
    a = build_job_body(WO, CUSTOMER, UNIT, BUILDING, "Unscheduled", None)
    b = build_job_body(dict(reversed(list(WO.items()))), dict(CUSTOMER), dict(UNIT), dict(BUILDING), "Unscheduled",
                       None)
    assert payload_hash(a) == payload_hash(b)


def test_customer_by_name_when_no_id() -> None:
    body = build_job_body(WO, {"customer_name": "Oak Holdings"}, UNIT, BUILDING, "Unscheduled", None)
    assert body["customer_name"] == "Oak Holdings"


@pytest.mark.parametrize("customer", [None, {}, {"id": None, "customer_name": "  "}])
def test_missing_customer_is_a_field_error(customer: dict[str, Any] | None) -> None:
    with pytest.raises(PayloadError) as info:
        build_job_body(WO, customer, UNIT, BUILDING, "Unscheduled", None)
    assert info.value.field == "customer_name" and "9000" in str(info.value)


def test_missing_address_is_a_field_error() -> None:
    with pytest.raises(PayloadError) as info:
        build_job_body(WO, CUSTOMER, UNIT, {**BUILDING, "address": {"city": "Austin"}}, "Unscheduled", None)
    assert info.value.field == "street_1" and "unit 100" in info.value.message
    with pytest.raises(PayloadError, match="building 10"):
        build_job_body(WO, CUSTOMER, None, {"id": 10}, "Unscheduled", None)


def test_missing_id_and_status() -> None:
    with pytest.raises(PayloadError) as info:
        build_job_body({**WO, "id": None}, CUSTOMER, UNIT, BUILDING, "Unscheduled", None)
    assert info.value.field == "po_number"
    with pytest.raises(PayloadError) as info:
        build_job_body(WO, CUSTOMER, UNIT, BUILDING, " ", None)
    assert info.value.field == "status"


def test_optional_fields_left_out() -> None:
    body = build_job_body({"id": 9001}, CUSTOMER, None, BUILDING, "Unscheduled", None)
    assert {"check_number", "description", "priority", "category", "street_2"}.isdisjoint(body)


def test_location_prefers_the_units_own_address() -> None:
    own = {"address": "12B Oak St", "addressCont": "Rear", "city": "Austin", "postalCode": "78702"}
    unit = {**UNIT, "address": own}
    assert location_fields(unit, BUILDING) == {"street_1": "12B Oak St", "street_2": "Rear", "city": "Austin",
                                               "postal_code": "78702"}
    building = {**BUILDING, "address": {**BUILDING["address"], "addressCont": "Bldg 2"}}
    assert location_fields(UNIT, building)["street_2"] == "Bldg 2, Unit A"
    assert location_fields(None, building)["street_2"] == "Bldg 2"


def test_resolve_reference() -> None:
    categories = ["Plumbing", "General Maintenance"]
    assert resolve_reference("PLUMBING", categories) == "Plumbing"
    assert resolve_reference("general-maintenance", categories) == "General Maintenance"
    assert resolve_reference("Service Requests", categories) is None
    assert resolve_reference(None, categories) is None
    assert resolve_reference("", [""]) is None


TENANT = {"id": 500, "type": "TENANT", "firstName": "Ana", "lastName": "Ruiz", "email": "ana@example.com",
          "mobilePhone": "555-0100", "homePhone": ""}


def test_contact_body() -> None:
    assert contact_body(TENANT, is_primary=True) == {
        "fname": "Ana", "lname": "Ruiz", "emails": [{"email": "ana@example.com"}],
        "phones": [{"phone": "555-0100", "type": "Mobile"}], "is_primary": True,
    }
    with pytest.raises(PayloadError) as info:
        contact_body({"id": 501, "firstName": "Solo"}, path="contacts[1]")
    assert info.value.field == "contacts[1].lname"


def test_tenant_customer_body() -> None:
    location = location_fields(UNIT, BUILDING)
    body = build_customer_body("tenant", TENANT, parent_customer=7000, contacts=[TENANT], locations=[location])
    assert body["customer_name"] == "Ana Ruiz" and body["parent_customer"] == 7000
    assert body["contacts"][0]["is_primary"] is True
    assert body["locations"] == [{**location, "is_primary": True}]
    assert body["custom_fields"] == [{"name": "PW Tenant ID", "value": "500"}]
    company = build_customer_body("tenant", {**TENANT, "company": "Ruiz Bakery"}, parent_customer="Oak Holdings")
    assert company["customer_name"] == "Ruiz Bakery" and "contacts" not in company and "locations" not in company


def test_portfolio_customer_body() -> None:
    body = build_customer_body("portfolio", {"id": 1, "name": "Oak Holdings"})
    assert body == {"customer_name": "Oak Holdings", "custom_fields": [{"name": "PW Portfolio ID", "value": "1"}]}


@pytest.mark.parametrize(
    ("kind", "record", "kwargs", "field"),
    [("portfolio", {"id": 1, "name": " "}, {}, "customer_name"),
     ("tenant", {"id": 500}, {"parent_customer": 1}, "customer_name"),
     ("tenant", TENANT, {}, "parent_customer"),
     ("tenant", TENANT, {"parent_customer": 1, "contacts": [TENANT, {"id": 2, "lastName": "X"}]}, "contacts[1].fname"),
     ("tenant", TENANT, {"parent_customer": 1, "locations": [{"city": "Austin"}]}, "locations[0].street_1"),
     ("vendor", TENANT, {}, "customer_name")],
)
def test_customer_body_errors(kind: Any, record: dict[str, Any], kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as info:
        build_customer_body(kind, record, **kwargs)
    assert info.value.field == field


SF_JOB = {"id": 8000, "number": "41", "status": "Completed", "completion_notes": "Replaced trap",
          "closed_at": "2026-01-06T15:00:00Z", "updated_at": "2026-01-06T16:00:00Z", "tech_notes": "Old pipe"}


def test_completed_job_closes_the_work_order() -> None:
    write = build_pw_update(SF_JOB, WO)
    assert write == PwWrite("close_work_order", {
        "workOrderID": 9000, "category": "Plumbing", "completedDate": "2026-01-06",
        "closingComments": "ServiceFusion job 41 Completed in ServiceFusion. Replaced trap",
    })


def test_close_date_falls_back() -> None:
    write = build_pw_update({"id": 8000, "status": "Paid In Full", "updated_at": "2026-01-07T01:00:00Z"}, WO)
    assert write is not None and write.payload["completedDate"] == "2026-01-07"
    bare = build_pw_update({"id": 8000, "status": "Completed"}, WO)
    assert bare is not None and "completedDate" not in bare.payload and "job 8000" in bare.payload["closingComments"]


def test_in_progress_job_updates_status_once() -> None:
    assert build_pw_update({**SF_JOB, "status": "On Site"}, WO) == PwWrite(
        "update_work_order", {"workOrderID": 9000, "status": "In Progress"})
    assert build_pw_update({**SF_JOB, "status": "On Site"}, {**WO, "status": "in progress"}) is None


def test_nothing_for_unscheduled_or_terminal_work_orders() -> None:
    assert build_pw_update({**SF_JOB, "status": "Unscheduled"}, WO) is None
    assert build_pw_update(SF_JOB, {**WO, "status": "Completed"}) is None
    assert build_pw_update({**SF_JOB, "status": "Started"}, {**WO, "status": "Closed"}) is None


def test_cancelled_job_needs_attention() -> None:
    write = build_pw_update({**SF_JOB, "status": "Cancelled"}, WO)
    assert write is not None and write.operation == "attention" and "Cancelled" in write.payload["reason"]


def test_custom_status_by_category_and_unknown_status() -> None:
    write = build_pw_update({**SF_JOB, "status": "Tech Late"}, WO, category="Open Jobs That Are In Progress")
    assert write is not None and write.payload["status"] == "In Progress"
    with pytest.raises(UnmappedStatusError):
        build_pw_update({**SF_JOB, "status": "Tech Late"}, WO)
    with pytest.raises(PayloadError):
        build_pw_update(SF_JOB, {"status": "Open"})


def test_pw_update_payload_ignores_volatile_fields() -> None:
    a = build_pw_update(SF_JOB, WO)
    b = build_pw_update({**SF_JOB, "updated_at": "2026-02-01T00:00:00Z"}, WO)
    assert a is not None and b is not None and payload_hash(a.payload) == payload_hash(b.payload)


def test_notes() -> None:
    assert build_pw_note(SF_JOB, WO) == PwWrite(
        "attach_note", {"workOrderID": 9000, "note": "ServiceFusion job 41 technician notes: Old pipe"})
    assert build_pw_note({**SF_JOB, "tech_notes": " "}, WO) is None
    assert build_pw_note(SF_JOB, {}) is None


def test_a_job_still_in_the_status_the_work_order_gave_it_writes_nothing_back() -> None:
    """"Awaiting Parts" creates a "Paused" job; that job must not turn the work order "In Progress"."""
    waiting = {**WO, "status": "Awaiting Parts"}
    assert build_pw_update({**SF_JOB, "status": "Paused"}, waiting) is None
    assert build_pw_update({**SF_JOB, "status": "On Site"}, waiting) == PwWrite(
        "update_work_order", {"workOrderID": WO["id"], "status": "In Progress"})


def test_free_text_is_cleaned_and_capped_once_where_payloads_are_built() -> None:
    """Control characters would fail the PW write on every attempt; an over-long text would never equal what
    PW keeps, so the note lookup after a lost answer could not find it."""
    pasted = "Trap\x00 replaced\x07\r\nleak\x1b fixed\ud800\x85"
    note = build_pw_note({**SF_JOB, "tech_notes": pasted}, WO)
    assert note is not None
    assert note.payload["note"] == "ServiceFusion job 41 technician notes: Trap replaced\nleak fixed"
    assert build_pw_note({**SF_JOB, "tech_notes": "\x00\x07 "}, WO) is None  # nothing left to say

    long_note = build_pw_note({**SF_JOB, "tech_notes": "word " * 3000}, WO)
    assert long_note is not None and MAX_TEXT_LENGTH - 1 <= len(long_note.payload["note"]) <= MAX_TEXT_LENGTH
    assert long_note.payload["note"].endswith("\u2026")
    assert long_note == build_pw_note({**SF_JOB, "tech_notes": "word " * 3000}, WO)  # same text, same key

    closed = build_pw_update({**SF_JOB, "completion_notes": "Done\x0b" + "x" * 5000}, WO)
    assert closed is not None and len(closed.payload["closingComments"]) <= MAX_TEXT_LENGTH
    assert "\x0b" not in closed.payload["closingComments"]
    body = build_job_body({**WO, "description": "Sink\x00 leaking\r\n" + "y" * 5000}, CUSTOMER, UNIT, BUILDING,
                          "Unscheduled", None)
    assert body["description"].startswith("Sink leaking\nyyy") and len(body["description"]) <= MAX_TEXT_LENGTH
