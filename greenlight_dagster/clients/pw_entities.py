"""PropertyWare's entities, described once for both of its APIs.

Why one table: the same seven record kinds are read through the legacy PWServices SOAP API
(rpc/encoded, ``get*`` operations over search criteria) and through the REST v1 API (bare JSON
arrays under ``/pw/api/rest/v1``). The clients, the sandbox servers, the raw landing tables and
the ingestion assets all derive their entity lists from `PW_ENTITIES`, so the two dialects
cannot drift apart and adding an entity is one line here.

Vocabulary: ``name`` is ours (the ingestion asset ``pw/<name>`` and the table ``raw.pw_<name>``),
``fixture_key`` is the sandbox fixture's key (REST naming, docs/operations.md in docs), and the rest
is each API's own spelling.
"""

from __future__ import annotations

from dataclasses import dataclass

from greenlight_dagster.clients.records import entity_named


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
    description: str
    partitioned: bool = False
    """Daily-partitioned in Dagster: the high-volume kind whose history a backfill re-reads by window."""
    soap_criteria: tuple[tuple[str, str], ...] = ()
    """Fixed search-criteria fields of the SOAP read (none of the legacy criteria select a contact type)."""
    rest_query: tuple[tuple[str, str], ...] = ()
    """Fixed query parameters of the REST read (``type=TENANT`` for tenants)."""
    record_filter: tuple[tuple[str, str], ...] = ()
    """Field values a record must have to belong here, checked after reading (tenants are TENANT contacts)."""
    rest_schema: str = ""
    """The OpenAPI schema of its REST records (``WorkOrder``)."""
    rest_item_path: str = ""
    """The REST v1 by-id path template, spelled as the vendor's document spells it (``/workorders/{workOrderId}``)."""
    rest_permission: str = ""
    """The key permission its REST endpoints need (``WORK ORDERS``; Read for GET, Write for POST/PUT)."""
    rest_sortable: tuple[str, ...] = ("id",)
    """The ``orderby`` fields the list endpoint accepts (lower case, as the vendor's document lists them)."""


_PLACE_SORT = ("createddate", "idnumber", "name", "abbreviation", "lastmodifieddatetime", "id")

PW_ENTITIES: tuple[PwEntity, ...] = (
    PwEntity("portfolios", "portfolios", "getAllPortfolios", "Portfolio", "/portfolios",
             "PropertyWare portfolios (an owner's holdings).",
             rest_schema="Portfolio", rest_item_path="/portfolios/{portfolioID}", rest_permission="PORTFOLIOS",
             rest_sortable=("createddate", "name", "abbreviation", "lastmodifieddatetime", "id")),
    PwEntity("buildings", "buildings", "getBuildings", "Building", "/buildings",
             "PropertyWare buildings (properties) with address and unit count.",
             rest_schema="Building", rest_item_path="/buildings/{buildingID}", rest_permission="BUILDINGS",
             rest_sortable=_PLACE_SORT),
    PwEntity("units", "units", "getUnits", "Unit", "/units", "PropertyWare units, each in a building and portfolio.",
             rest_schema="Unit", rest_item_path="/units/{unitID}", rest_permission="UNITS", rest_sortable=_PLACE_SORT),
    PwEntity("leases", "leases", "getLeases", "Lease", "/leases",
             "PropertyWare leases: unit, dates, status and tenant ids.",
             rest_schema="Lease", rest_item_path="/leases/{leaseId}", rest_permission="LEASES",
             rest_sortable=("startdate", "idnumber", "scheduledmoveoutdate", "enddate", "lastmodifieddatetime",
                            "status", "moveoutdate", "id", "moveindate")),
    PwEntity("tenants", "contacts", "getContacts", "Contact", "/contacts", "PropertyWare contacts of type TENANT.",
             rest_query=(("type", "TENANT"),), record_filter=(("type", "TENANT"),),
             rest_schema="Contact", rest_item_path="/contacts/{contactID}", rest_permission="CONTACTS",
             rest_sortable=("firstname", "createddate", "lastname", "email", "type", "lastmodifieddatetime", "id")),
    PwEntity("vendors", "vendors", "getVendors", "Vendor", "/vendors",
             "PropertyWare vendors (the trades that do the work).",
             rest_schema="Vendor", rest_item_path="/vendors/{vendorID}", rest_permission="VENDORS",
             rest_sortable=("createddate", "vendortype", "lastmodifieddatetime", "id")),
    PwEntity("work_orders", "workOrders", "getWorkOrders", "WorkOrder", "/workorders",
             "PropertyWare work orders.", partitioned=True,
             rest_schema="WorkOrder", rest_item_path="/workorders/{workOrderId}", rest_permission="WORK ORDERS",
             rest_sortable=("createddate", "number", "type", "lastmodifieddatetime", "status", "id")),
)

BY_NAME: dict[str, PwEntity] = {e.name: e for e in PW_ENTITIES}


def pw_entity(name: str) -> PwEntity:
    """The entity called ``name``; a clear error for any other name."""
    return entity_named(BY_NAME, name, "PropertyWare")


# ---------------------------------------------------------------- legacy SOAP field mapping
#
# The legacy structs (`greenlight_dagster/contracts/propertyware-soap-signatures.json`) spell
# some fields differently from REST, nest what REST flattens and the other way round. A
# `LegacyField` names each such difference once; `to_legacy` (the sandbox serving its REST-named
# fixture) and `from_legacy` (the client landing REST-named raw payloads) both read it, so the
# two directions cannot disagree. Any other REST field whose name the struct also has travels
# under that name; a REST field the struct lacks is not sent (the real service has no place for it).

#: Legacy date strings (docs/apis/propertyware.md §5: dates are strings; the vendor's format is unverified).
LEGACY_DATE = "%m/%d/%Y"
LEGACY_DATETIME = "%m/%d/%Y %H:%M:%S"


@dataclass(frozen=True)
class LegacyField:
    """How one REST field travels in a legacy struct.

    ``kind``: ``rename`` (same value, other name), ``ref`` (an id <-> a nested struct with that
    ``ID``), ``id_text`` (an id <-> its decimal text), ``id_list`` (one id <-> a one-item id
    array), ``id_objects`` (``[{id, ...}]`` <-> an id array), ``tenants`` (a lease's
    ``tenantIDs`` and ``contacts`` <-> its ``Contact`` structs), ``date`` / ``datetime`` (ISO
    <-> the legacy strings), ``address`` (a REST address object <-> the struct's flat fields),
    ``notes`` (REST notes ``{note, createdDateTime}`` <-> ``Note`` structs ``{body, date}``).
    """

    rest: str
    legacy: str
    kind: str = "rename"


_ADDRESS = LegacyField("address", "address", "address")
#: REST address object key -> the flat legacy field.
ADDRESS_FIELDS: tuple[tuple[str, str], ...] = (
    ("address", "address"), ("addressCont", "address2"), ("city", "city"), ("stateRegion", "state"),
    ("postalCode", "zip"), ("country", "country"),
)
_UNIT_LIKE = (_ADDRESS, LegacyField("portfolioID", "portfolio", "id_text"))

LEGACY_FIELDS: dict[str, tuple[LegacyField, ...]] = {
    "Portfolio": (),
    "Building": _UNIT_LIKE,
    "Unit": _UNIT_LIKE,
    "Contact": (_ADDRESS, LegacyField("type", "contactType")),
    "Lease": (
        LegacyField("status", "leaseStatus"),
        LegacyField("primaryContactID", "primaryContact", "ref"),
        LegacyField("tenantIDs", "tenants", "tenants"),
        *(LegacyField(name, name, "date") for name in (
            "startDate", "endDate", "moveInDate", "moveOutDate", "scheduleMoveOutDate", "noticeGivenDate",
            "terminatedDate", "evictionDate")),
    ),
    "Vendor": (LegacyField("type", "vendorType"),),
    "WorkOrder": (
        LegacyField("buildingID", "building", "ref"),
        LegacyField("portfolioID", "portfolio", "ref"),
        LegacyField("unitID", "unitIDs", "id_list"),
        LegacyField("assignedVendors", "vendorIDs", "id_objects"),
        LegacyField("createdDateTime", "createdDate", "datetime"),
        LegacyField("notes", "notes", "notes"),
        *(LegacyField(name, name, "date") for name in ("startDate", "scheduledEndDate", "completedDate")),
    ),
}
