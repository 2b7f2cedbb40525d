"""Small builders of PropertyWare and ServiceFusion records as the APIs send them.

Each builder returns a new payload dict with the field names the clients and the warehouse read
(docs/apis/propertyware.md §4, docs/apis/servicefusion.md §6): a plausible record of one small world
(portfolio 1 > building 10 > unit 100, SF customer 7000) unless a keyword says otherwise. Pass a field
as a keyword to set it, or ``ABSENT`` to leave it out as an API leaves out an unset field::

    pw_work_order(9001, unitID=ABSENT, status="Scheduled")
    source_record("work_orders", pw_work_order(9001), modified_at=T0)

A test states the values it depends on; the defaults are only there so it need not state the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from greenlight_dagster.clients.records import SourceRecord

#: A keyword value that leaves the field out of the payload.
ABSENT: Any = object()

OAK_STREET = {"address": "12 Oak Street", "city": "Austin", "stateRegion": "TX", "postalCode": "78701"}


def _payload(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **overrides}
    return {name: value for name, value in merged.items() if value is not ABSENT}


def pw_portfolio(portfolio_id: int, **fields: Any) -> dict[str, Any]:
    """A PW portfolio (the owner, an SF customer's counterpart)."""
    return _payload({"id": portfolio_id, "name": f"Portfolio {portfolio_id}", "abbreviation": f"P{portfolio_id}",
                     "active": True}, fields)


def pw_building(building_id: int, **fields: Any) -> dict[str, Any]:
    """A PW building of portfolio 1, multi-unit, with an Austin address."""
    return _payload({"id": building_id, "portfolioID": 1, "name": f"Building {building_id}", "multiUnit": True,
                     "address": dict(OAK_STREET)}, fields)


def pw_unit(unit_id: int, **fields: Any) -> dict[str, Any]:
    """A PW unit of building 10 (portfolio 1)."""
    return _payload({"id": unit_id, "buildingID": 10, "portfolioID": 1, "name": f"Unit {unit_id}"}, fields)


def pw_tenant(contact_id: int, **fields: Any) -> dict[str, Any]:
    """A PW contact of type TENANT."""
    return _payload({"id": contact_id, "type": "TENANT", "firstName": "Ana", "lastName": "Ruiz",
                     "email": f"tenant{contact_id}@example.com"}, fields)


def pw_lease(lease_id: int, **fields: Any) -> dict[str, Any]:
    """An active PW lease of unit 100 whose one (primary) tenant is contact 500."""
    return _payload({"id": lease_id, "unitID": 100, "buildingID": 10, "portfolioID": 1, "status": "Active",
                     "active": True, "startDate": "2025-06-01", "endDate": "2026-05-31", "tenantIDs": [500],
                     "primaryContactID": 500}, fields)


def pw_work_order(work_order_id: int, **fields: Any) -> dict[str, Any]:
    """An open PW work order on unit 100 of building 10; its number is the id less 8000."""
    return _payload({"id": work_order_id, "number": work_order_id - 8000, "portfolioID": 1, "buildingID": 10,
                     "unitID": 100, "status": "Open", "priority": "HIGH", "category": "Plumbing",
                     "description": f"Work order {work_order_id}", "createdDateTime": "2026-01-02T09:00:00Z"},
                    fields)


def sf_customer(customer_id: int, **fields: Any) -> dict[str, Any]:
    """A top-level SF customer with no contacts or locations."""
    return _payload({"id": customer_id, "customer_name": f"Customer {customer_id}", "parent_customer": None,
                     "contacts": [], "locations": []}, fields)


def sf_job(job_id: int, **fields: Any) -> dict[str, Any]:
    """A scheduled SF job of customer 7000; its number is the id as text."""
    return _payload({"id": job_id, "number": str(job_id), "customer_id": 7000, "status": "Scheduled"}, fields)


def source_record(entity: str, payload: dict[str, Any], modified_at: datetime | None = None) -> SourceRecord:
    """``payload`` as a client yields it for ``entity`` (e.g. "work_orders", "jobs"): its id is the source id."""
    return SourceRecord(entity=entity, source_id=int(payload["id"]), modified_at=modified_at, payload=payload)
