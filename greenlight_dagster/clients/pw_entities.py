"""PropertyWare's entities, described once for both of its APIs.

Why one table: the same seven record kinds are read through the legacy PWServices SOAP API
(rpc/encoded, ``get*`` operations over search criteria) and through the REST v1 API (bare JSON
arrays under ``/pw/api/rest/v1``). The clients, the sandbox servers, the raw landing tables and
the ingestion assets all derive their entity lists from `PW_ENTITIES`, so the two dialects
cannot drift apart and adding an entity is one line here.

Vocabulary: ``name`` is ours (the ingestion asset ``pw/<name>`` and the table ``raw.pw_<name>``),
``fixture_key`` is the sandbox fixture's key (REST naming, operations.md in docs), and the rest
is each API's own spelling.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PwEntity:
    """One PropertyWare record kind and how each API names and reads it."""

    name: str
    fixture_key: str
    soap_operation: str
    """The legacy search operation that lists it (``getWorkOrders``)."""
    soap_struct: str
    """The legacy struct its records are (``WorkOrder``)."""
    rest_path: str
    """The REST v1 list path (``/workorders``)."""
    soap_criteria: tuple[tuple[str, str], ...] = ()
    """Fixed search-criteria fields of the SOAP read (none of the legacy criteria select a contact type)."""
    rest_query: tuple[tuple[str, str], ...] = ()
    """Fixed query parameters of the REST read (``type=TENANT`` for tenants)."""
    record_filter: tuple[tuple[str, str], ...] = ()
    """Field values a record must have to belong here, checked after reading (tenants are TENANT contacts)."""


PW_ENTITIES: tuple[PwEntity, ...] = (
    PwEntity("portfolios", "portfolios", "getAllPortfolios", "Portfolio", "/portfolios"),
    PwEntity("buildings", "buildings", "getBuildings", "Building", "/buildings"),
    PwEntity("units", "units", "getUnits", "Unit", "/units"),
    PwEntity("leases", "leases", "getLeases", "Lease", "/leases"),
    PwEntity("tenants", "contacts", "getContacts", "Contact", "/contacts",
             rest_query=(("type", "TENANT"),), record_filter=(("type", "TENANT"),)),
    PwEntity("vendors", "vendors", "getVendors", "Vendor", "/vendors"),
    PwEntity("work_orders", "workOrders", "getWorkOrders", "WorkOrder", "/workorders"),
)

BY_NAME: dict[str, PwEntity] = {e.name: e for e in PW_ENTITIES}


def pw_entity(name: str) -> PwEntity:
    """The entity called ``name``; a clear error for any other name."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown PropertyWare entity {name!r}; expected one of {sorted(BY_NAME)}") from None
