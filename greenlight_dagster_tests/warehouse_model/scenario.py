"""Hand-built raw records for the warehouse model tests, landed in three rounds.

Each record exists to exercise one rule, named beside it. Round 1 is the initial state; round 2
changes work order 9000 and deletes 9005 and unit 102 (tombstones from full refreshes); round 3
changes 9000 again, changes tenant 501's e-mail and lands a *late, older* version of 9001 that
must not rewrite history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from greenlight_dagster.clients.records import SourceRecord
from greenlight_dagster.warehouse.loader import load_records, mark_deleted
from greenlight_dagster_tests.factories import (
    ABSENT,
    OAK_STREET,
    pw_building,
    pw_lease,
    pw_portfolio,
    pw_tenant,
    pw_unit,
    pw_work_order,
    source_record,
)

T0 = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 1, 3, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 1, 4, 15, 30, tzinfo=UTC)
T_LATE = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)  # older than anything landed for 9001


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _record(entity: str, payload: dict[str, Any], modified: datetime | None) -> SourceRecord:
    stamped = dict(payload)
    if modified is not None:
        stamped.setdefault("lastModifiedDateTime" if "customer_name" not in payload else "updated_at", _iso(modified))
    return source_record(entity, stamped, modified_at=modified)


PORTFOLIOS = [
    pw_portfolio(1, name="Oak Holdings LLC", abbreviation="OAK"),  # normalized match
    pw_portfolio(2, name="Maple Group", abbreviation="MAP"),  # stamped-id match
    pw_portfolio(3, name="Unmapped Estates", abbreviation="UNM"),  # no SF customer
]
BUILDINGS = [
    pw_building(10, portfolioID=1, name="12 Oak St", multiUnit=True, countUnit=3, address=dict(OAK_STREET)),
    pw_building(20, portfolioID=2, name="5 Elm Ave", multiUnit="single family", countUnit=1,
                address={"address": "5 Elm Ave", "city": "Austin", "stateRegion": "TX", "postalCode": "78702"}),
    pw_building(30, portfolioID=3, name="99 Nowhere Rd", multiUnit="multi family",
                address={"address": "99 Nowhere Rd", "city": "Austin", "stateRegion": "TX", "postalCode": "78703"}),
]
UNITS = [
    pw_unit(100, buildingID=10, name="Unit A"),
    pw_unit(101, buildingID=10, name="Unit B"),
    pw_unit(102, buildingID=10, name="Unit C"),  # deleted in round 2 (tombstone)
    pw_unit(200, buildingID=20, portfolioID=2, name="Main"),
    pw_unit(300, buildingID=30, portfolioID=3, name="Unit 1"),
    pw_unit(301, buildingID=30, portfolioID=3, name="Unit 2"),
]
TENANTS = [
    pw_tenant(500, firstName="Ana", lastName="Ruiz", email="ana@example.com"),
    pw_tenant(501, firstName="Bob", lastName="Lee", email="bob@example.com"),
]
DELETED_UNIT = 102
CHANGED_TENANT = {**TENANTS[1], "email": "bob.lee@example.com"}  # round 3
LEASES = [
    pw_lease(400, unitID=100, tenantIDs=[500], primaryContactID=500),
    pw_lease(401, unitID=20, buildingID=20, portfolioID=2, startDate="2025-01-01", endDate="2026-12-31",
             tenantIDs=ABSENT, primaryContactID=ABSENT,  # the tenants only as contacts
             contacts=[{"id": 501, "firstName": "Bob", "lastName": "Lee", "primary": True}]),
]
VENDORS = [{"id": 700, "name": "FastFix", "companyName": "FastFix LLC", "active": True}]


def work_order(wo_id: int, building: int, unit: int | None, status: str, **extra: Any) -> dict[str, Any]:
    return pw_work_order(wo_id, portfolioID={10: 1, 20: 2, 30: 3}[building], buildingID=building,
                         unitID=ABSENT if unit is None else unit, status=status, **extra)


WORK_ORDERS_R1 = [
    work_order(9000, 10, 100, "Open"),  # changed in rounds 2 and 3 -> 3 versions
    work_order(9001, 10, 10, "Open"),  # unit column holds the building id -> violation, unit nulled
    work_order(9002, 10, 200, "Open"),  # another building's unit -> violation
    work_order(9003, 20, None, "Open"),  # single family, no unit -> routes to its one unit (200)
    work_order(9004, 10, 101, "Frobnicated"),  # unknown status -> unmapped, check fails
    work_order(9005, 30, 300, "Open"),  # deleted in round 2 (tombstone)
    work_order(9006, 10, None, "Scheduled"),  # multi-unit, no unit -> violation
]

SF_CUSTOMERS = [
    {"id": 7000, "customer_name": "Oak Holdings", "parent_customer": None, "contacts": [], "locations": []},
    {"id": 7001, "customer_name": "Maple Grp Inc", "contacts": [], "locations": [],
     "custom_fields": [{"name": "PW Portfolio ID", "value": "2"}]},
    {"id": 7002, "customer_name": "Ana Ruiz", "parent_customer": "Oak Holdings", "contacts": [], "locations": []},
    {"id": 7003, "customer_name": "Bob Lee", "parent_customer": "Someone Else", "contacts": [], "locations": []},
    {"id": 7004, "customer_name": "Oak Street Residences", "contacts": [],
     "locations": [{"street_1": "12 Oak St.", "city": "Austin", "postal_code": "78701"}]},
]
SF_JOB_STATUSES = [
    {"id": 1, "code": "01_UNS", "name": "Unscheduled", "category": "Open Jobs", "is_custom": False},
    {"id": 2, "code": "02_SCH", "name": "Scheduled", "category": "Open Jobs", "is_custom": False},
    {"id": 11, "code": "11_CMP", "name": "Completed", "category": "Closed Jobs", "is_custom": False},
    {"id": 99, "code": "99_WAIT", "name": "Custom Waiting", "category": "Open Jobs", "is_custom": True},
]
SF_JOBS = [
    {"id": 8000, "number": "1", "customer_id": 7000, "customer_name": "Oak Holdings", "status": "Scheduled",
     "po_number": "PW-9000", "check_number": "1000"},
    {"id": 8001, "number": "2", "customer_id": 7001, "status": "Custom Waiting", "po_number": None,
     "custom_fields": [{"name": "PW Work Order ID", "value": "9003"}]},
    {"id": 8002, "number": "3", "customer_id": 7000, "status": "Completed", "po_number": "CUST-PO-77"},
]


def land_round_1(engine: Engine) -> None:
    """The initial state of both systems."""
    for entity, rows in (("portfolios", PORTFOLIOS), ("buildings", BUILDINGS), ("units", UNITS),
                         ("tenants", TENANTS), ("leases", LEASES), ("vendors", VENDORS),
                         ("work_orders", WORK_ORDERS_R1)):
        load_records(engine, "pw", entity, [_record(entity, r, T0) for r in rows], run_id="wm-r1")
    for entity, rows in (("customers", SF_CUSTOMERS), ("job_statuses", SF_JOB_STATUSES), ("jobs", SF_JOBS)):
        load_records(engine, "sf", entity, [_record(entity, r, T0) for r in rows], run_id="wm-r1")


def land_round_2(engine: Engine) -> None:
    """9000 scheduled; 9005 and unit 102 disappear from full refreshes (tombstones)."""
    load_records(engine, "pw", "work_orders", [_record("work_orders", work_order(9000, 10, 100, "Scheduled"), T1)],
                 run_id="wm-r2")
    present = [wo["id"] for wo in WORK_ORDERS_R1 if wo["id"] != 9005]
    mark_deleted(engine, "pw", "work_orders", present, run_id="wm-r2")
    mark_deleted(engine, "pw", "units", [u["id"] for u in UNITS if u["id"] != DELETED_UNIT], run_id="wm-r2")


def land_round_3(engine: Engine) -> None:
    """9000 in progress; tenant 501 changed; a late, older version of 9001 that must not become current."""
    load_records(engine, "pw", "tenants", [_record("tenants", CHANGED_TENANT, T2)], run_id="wm-r3")
    load_records(engine, "pw", "work_orders",
                 [_record("work_orders", work_order(9000, 10, 100, "In Progress"), T2),
                  _record("work_orders", work_order(9001, 10, 10, "Open", description="stale copy"), T_LATE)],
                 run_id="wm-r3")
