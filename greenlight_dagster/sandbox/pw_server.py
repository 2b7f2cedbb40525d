"""The PropertyWare PWServices SOAP sandbox (propertyware.md §5-§6 items 12-16).

GET ``/pw/services/PWServices?wsdl`` serves ``propertyware.wsdl`` with its address set to
this server; POST ``/pw/services/PWServices`` takes SOAP 1.1 envelopes.

**Style: document/literal wrapped**, not the legacy rpc/encoded of the contract's §5 note.
That note describes the vendor's old WSDL; what matters to us is a WSDL zeep consumes at full
strength (typed request building, no soapenc arrays, WS-I conformant), and document/literal
wrapped is the style zeep supports best. Decision record: docs/decisions/0003.

**Extensions over the legacy structs**, said out loud because they are ours: every entity
carries ``createdDateTime``/``lastModifiedDateTime`` (the legacy structs have no modified
field, which would make incremental sync impossible), criteria carry ``pageSize``, list
responses carry ``pageNumber``/``pageSize``/``totalCount``, work orders carry plain
``portfolioID``/``buildingID``/``unitID``, and ``clientData`` carries, as JSON, every fixture
field the typed elements cannot - so nothing in a fixture is dropped (`clients.pw_wire`).

Behaviour: results ordered by id ascending (``orderByNewestFirst``: last-modified
descending, then id descending); ``lastModifiedOnOrAfter/OnOrBefore`` inclusive in UTC, and a
record whose timestamp cannot be parsed is left out of windowed reads (but served by full
ones, where the client reports it). Every mutation goes through `SandboxState.patch` or
`upsert`, so it bumps ``lastModifiedDateTime``. Auth is HTTP Basic or an ``AuthHeader`` SOAP
header (the real mechanism is unverified, item 16). Errors are SOAP Faults with HTTP 500:
``Client.Authentication`` for credentials, ``Client`` for bad input, ``Server`` for ours.
Request XML with a DTD is refused: entities are never expanded, nothing is fetched.

Speed (the sandbox must never be a benchmark's bottleneck): a list query's matching ids, in
order, are kept until its table changes (`SandboxState.derived`), and each record's XML per
record version (`SandboxState.record_version`; a lease's also per version of the contacts
table, whose records it embeds); responses are written as text by `pw_xml`. So a page costs
a slice and a join, whatever the table's size, and any mutation shows on the very next page.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hmac
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from zeep import Settings
from zeep.exceptions import LookupError as SchemaLookupError
from zeep.transports import Transport
from zeep.wsdl import Document

from greenlight_dagster.clients.pw_wire import (
    NS,
    SOAP_ENV_NS,
    WireField,
    WireSchema,
    WireValueError,
    lexical,
    parse_utc,
)
from greenlight_dagster.sandbox import pw_xml
from greenlight_dagster.sandbox.httpbase import SandboxHandler, SandboxHTTPServer
from greenlight_dagster.sandbox.state import NotFound, SandboxState

WSDL_PATH = Path(__file__).with_name("propertyware.wsdl")
SERVICE_PATH = "/pw/services/PWServices"
_WSDL_PLACEHOLDER = "http://127.0.0.1/pw/services/PWServices"
MAX_PAGE_SIZE = 1000
AUTH_MODES = ("basic", "header")
PW = "propertyware"
CLOSED_STATUS = "Completed"  # what closeWorkOrder sets; one of core.statuses.DEFAULT_PW_TERMINAL
DEFAULT_CREATE_STATUS = "Open"
_SERVER_MANAGED = ("id", "createdDateTime", "lastModifiedDateTime")
#: Rendered records kept (~0.8 KB each): all of a medium world, a third of a large one.
FRAGMENT_CACHE_SIZE = 100_000


class SoapFault(Exception):
    """Answered as a SOAP 1.1 Fault with HTTP 500."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@functools.cache
def wire_schema() -> WireSchema:
    """The WSDL's types, parsed once per process by zeep (the same parser the client uses)."""
    # zeep annotates ``transport`` as a class but uses (and documents) an instance.
    document = Document(str(WSDL_PATH), Transport(), settings=Settings(strict=True, forbid_dtd=True))  # type: ignore[arg-type]
    return WireSchema(document.types)


@functools.cache
def _wsdl_text() -> str:
    return WSDL_PATH.read_text(encoding="utf-8")


# ---------------------------------------------------------------- operations (no HTTP here)

@dataclass(frozen=True)
class ListOperation:
    """A paged search: which fixture table, the response's item element, criteria filters."""

    entity: str
    item: str
    filters: tuple[tuple[str, str], ...] = ()  # (criteria element, REST field compared for equality)


_PLACE = (("portfolioId", "portfolioID"), ("buildingId", "buildingID"), ("unitId", "unitID"))
LIST_OPERATIONS = {
    "getAllPortfolios": ListOperation("portfolios", "portfolio"),
    "getPortfolioList": ListOperation("portfolios", "portfolio"),  # legacy name, same search (one org)
    "getBuildings": ListOperation("buildings", "building", (("portfolioId", "portfolioID"),)),
    "getUnits": ListOperation("units", "unit", (("portfolioId", "portfolioID"), ("buildingId", "buildingID"))),
    "getLeases": ListOperation("leases", "lease", _PLACE),
    "getContacts": ListOperation("contacts", "contact", (("contactType", "type"),)),
    "getVendors": ListOperation("vendors", "vendor"),
    "getWorkOrders": ListOperation("workOrders", "workOrder", _PLACE),
}


class PWService:
    """The operations, on REST-named dicts in and out; the HTTP handler only wraps them in SOAP."""

    def __init__(self, state: SandboxState, page_size: int) -> None:
        self.state = state
        self.page_size = page_size
        # Only touched under state.lock; entries carry the version they were made at.
        self._fragments: OrderedDict[tuple[str, int], tuple[tuple[int, int], pw_xml.Fragment]] = OrderedDict()
        self._stamps: dict[str, _Stamps] = {}

    def call(self, operation: str, request: dict[str, Any], user: str) -> dict[str, Any]:
        """Run one operation; raises `SoapFault` for bad input."""
        if operation in LIST_OPERATIONS:
            return self.search(operation, request.get("criteria") or {})
        handler = self._writers().get(operation)
        if handler is None:
            raise SoapFault("Client", f"unknown operation {operation!r}")
        return handler(request, user)

    def _writers(self) -> dict[str, Callable[[dict[str, Any], str], dict[str, Any]]]:
        return {
            "getWorkOrder": self.get_work_order,
            "createWorkOrder": self.create_work_order,
            "updateWorkOrder": self.update_work_order,
            "closeWorkOrder": self.close_work_order,
            "attachNoteToWorkOrder": self.attach_note,
            "echoString": lambda request, _user: {"return": request["arg"]},
        }

    # ---- reads ----
    def search(self, operation: str, criteria: dict[str, Any]) -> dict[str, Any]:
        """One page; its records are `pw_xml.Fragment` s, which `response_envelope` copies in as they are."""
        op = LIST_OPERATIONS[operation]
        page_number = criteria.get("pageNumber", 1)
        page_size = criteria.get("pageSize", self.page_size)
        if page_number < 1:
            raise SoapFault("Client", f"pageNumber must be 1 or more (1-based), got {page_number}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise SoapFault("Client", f"pageSize must be within 1-{MAX_PAGE_SIZE}, got {page_size}")
        selected = _Selection(criteria, op.filters)
        with self.state.lock:
            matches = self._matching_ids(op.entity, selected)
            start = (page_number - 1) * page_size
            schema = wire_schema()
            item = schema.field(schema.element_type(f"{operation}Response"), op.item)
            page = [self._fragment(operation, item, record_id) for record_id in matches[start:start + page_size]]
        response: dict[str, Any] = {"pageNumber": page_number, "pageSize": page_size, "totalCount": len(matches)}
        if page:
            response[op.item] = page
        return response

    def _matching_ids(self, entity: str, selected: _Selection) -> list[int]:
        """The ids the query matches, in its order; recomputed only after the table changed."""
        table, stamps = self.state.table(PW, entity), self._stamps.setdefault(entity, _Stamps())
        return self.state.derived(PW, entity, selected.key(), lambda: selected.select(table, stamps))

    def _fragment(self, operation: str, item: WireField, record_id: int) -> pw_xml.Fragment:
        """The record's element as served, rendered again only after it (or a lease's contacts) changed."""
        op = LIST_OPERATIONS[operation]
        version = (self.state.record_version(PW, op.entity, record_id),
                   self.state.table_version(PW, "contacts") if op.entity == "leases" else 0)
        key = (op.item, record_id)
        cached = self._fragments.get(key)
        if cached is not None and cached[0] == version:
            self._fragments.move_to_end(key)
            return cached[1]
        wire, left = wire_schema().to_wire(self._served(op.entity, self.state.table(PW, op.entity)[record_id]),
                                    item.xsd_type)
        if left:
            raise SoapFault("Server", f"{operation}: cannot encode {[op.item]}")
        rendered = pw_xml.fragment(item.wire, wire)
        self._fragments[key] = (version, rendered)
        if len(self._fragments) > FRAGMENT_CACHE_SIZE:
            self._fragments.popitem(last=False)
        return rendered

    def _served(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """A copy of the record as served; a lease's ``contacts`` are its tenants' contact records.

        Shallow: serialising only reads it, and every mutation (`SandboxState.patch`/`upsert`)
        replaces values rather than changing nested ones in place. A deep copy of each record was
        a quarter of the server's time per page.
        """
        served = dict(record)
        if entity == "leases":
            contacts = self.state.table(PW, "contacts")
            tenant_ids = served.get("tenantIDs")
            served["contacts"] = [_lease_contact(contacts[t], t == served.get("primaryContactID"))
                                  for t in (tenant_ids if isinstance(tenant_ids, list) else [])
                                  if isinstance(t, int) and t in contacts]
        return served

    def get_work_order(self, request: dict[str, Any], _user: str) -> dict[str, Any]:
        with self.state.lock:
            record = self.state.table(PW, "workOrders").get(request["workOrderID"])
            return {"workOrder": copy.deepcopy(record)} if record is not None else {}

    # ---- writes ----
    def create_work_order(self, request: dict[str, Any], _user: str) -> dict[str, Any]:
        record = _client_fields(request["workOrder"])
        building_id = record.get("buildingID")
        with self.state.lock:
            if building_id not in self.state.table(PW, "buildings"):
                raise SoapFault("Client", f"createWorkOrder needs the buildingID of an existing building, "
                                          f"got {building_id!r}")
            numbers = [r.get("number") for r in self.state.table(PW, "workOrders").values()]
            record.setdefault("number", max((n for n in numbers if isinstance(n, int)), default=0) + 1)
            record.setdefault("status", DEFAULT_CREATE_STATUS)
            return {"workOrder": copy.deepcopy(self.state.upsert(PW, "workOrders", record))}

    def update_work_order(self, request: dict[str, Any], _user: str) -> dict[str, Any]:
        changes = request["workOrder"]
        if type(changes.get("id")) is not int:
            raise SoapFault("Client", "updateWorkOrder needs workOrder/ID")
        return self._patch(changes["id"], _client_fields(changes))

    def close_work_order(self, request: dict[str, Any], _user: str) -> dict[str, Any]:
        completed = request.get("completedDate") or self.state.now().date().isoformat()
        changes = {"status": CLOSED_STATUS, "category": request["category"],
                   "closingComments": request["closingComments"], "completedDate": completed}
        if request.get("startDate"):
            changes["startDate"] = request["startDate"]
        return self._patch(request["workOrderID"], changes)

    def attach_note(self, request: dict[str, Any], user: str) -> dict[str, Any]:
        text = request["note"]
        if not text.strip():
            raise SoapFault("Client", "attachNoteToWorkOrder: the note is empty")
        with self.state.lock:
            record = self._work_order(request["workOrderID"])
            notes = list(record.get("notes") or [])
            notes.append({"note": text, "createdBy": user, "createdDateTime": self.state.tick()})
            return self._patch(record["id"], {"notes": notes})

    def _patch(self, work_order_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            self._work_order(work_order_id)
            return {"workOrder": copy.deepcopy(self.state.patch(PW, "workOrders", work_order_id, changes))}

    def _work_order(self, work_order_id: int) -> dict[str, Any]:
        try:
            return self.state.get(PW, "workOrders", work_order_id)
        except NotFound:
            raise SoapFault("Client", f"work order {work_order_id} not found") from None


class _Selection:
    """The record filter and order that one set of search criteria asks for."""

    def __init__(self, criteria: dict[str, Any], filters: tuple[tuple[str, str], ...]) -> None:
        self.ids = set(criteria.get("ids") or ())
        self.after = _criteria_time(criteria, "lastModifiedOnOrAfter")
        self.before = _criteria_time(criteria, "lastModifiedOnOrBefore")
        self.equal = [(field, criteria[name]) for name, field in filters if name in criteria]
        self.newest_first = bool(criteria.get("orderByNewestFirst"))

    def key(self) -> tuple[Any, ...]:
        """What decides the matching ids and their order (the page number and size do not)."""
        return (frozenset(self.ids), self.after, self.before, tuple(self.equal), self.newest_first)

    def select(self, table: dict[int, dict[str, Any]], stamps: _Stamps) -> list[int]:
        """The matching ids in order: id ascending; newest first is (has a timestamp, timestamp, id) descending.

        Only what the criteria need is looked at: ``ids`` pick records directly, and timestamps
        are parsed only for a time window or newest-first order (and then once per value, `_Stamps`).
        """
        candidates = {i: table[i] for i in self.ids if i in table} if self.ids else table
        if self.equal:
            candidates = {i: r for i, r in candidates.items() if all(r.get(f) == v for f, v in self.equal)}
        if self.after is None and self.before is None and not self.newest_first:
            return sorted(candidates)
        stamped = stamps.of(candidates)
        after, before = self.after, self.before
        if after is not None or before is not None:
            stamped = {i: s for i, s in stamped.items() if s[0] is not None and (after is None or s[0] >= after)
                       and (before is None or s[0] <= before)}
        ids = sorted(stamped, reverse=self.newest_first)
        if self.newest_first:  # stable: equal timestamps stay id descending; no timestamp (-inf) comes last
            recency = {i: s[1] for i, s in stamped.items()}
            ids.sort(key=recency.__getitem__, reverse=True)
        return ids


#: A record's parsed last-modified time and its POSIX timestamp (-inf without one), the newest-first key.
_Stamped = tuple[datetime | None, float]


class _Stamps:
    """Each record's ``lastModifiedDateTime`` parsed, kept per raw value.

    Parsing was most of a time-windowed query's cost; kept with the raw value it came from, an
    entry can never be stale, whichever way the record changed.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[Any, _Stamped]] = {}

    def of(self, records: dict[int, dict[str, Any]]) -> dict[int, _Stamped]:
        known, out = self._by_id, {}
        for record_id, record in records.items():
            raw = record.get("lastModifiedDateTime")
            entry = known.get(record_id)
            if entry is None or entry[0] != raw:
                modified = _modified(record)
                entry = known[record_id] = (raw, (modified, modified.timestamp() if modified else -math.inf))
            out[record_id] = entry[1]
        return out


def _criteria_time(criteria: dict[str, Any], name: str) -> datetime | None:
    value = criteria.get(name)
    if value is None:
        return None
    try:
        return parse_utc(value)
    except ValueError:
        raise SoapFault("Client", f"{name} must be an ISO-8601 timestamp such as 2026-01-05T12:00:00Z, "
                                  f"got {value!r}") from None


def _modified(record: dict[str, Any]) -> datetime | None:
    try:
        return parse_utc(record["lastModifiedDateTime"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _lease_contact(contact: dict[str, Any], primary: bool) -> dict[str, Any]:
    keep = ("id", "firstName", "lastName", "email", "homePhone", "mobilePhone", "workPhone", "company")
    return {**{k: contact[k] for k in keep if k in contact}, "primary": primary}


def _client_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A work order as a client sent it, minus what only the server may set."""
    return {k: v for k, v in record.items() if k not in _SERVER_MANAGED}


# ---------------------------------------------------------------- SOAP over HTTP

class _RequestParser(etree.XMLParser):
    """No DTDs (checked after parsing), no entity expansion, no network, no huge trees."""

    def __init__(self) -> None:
        super().__init__(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                         remove_comments=True)


@dataclass(frozen=True)
class SoapRequest:
    operation: str
    body: etree._Element
    header: etree._Element | None


def parse_envelope(raw: bytes) -> SoapRequest:
    """Hardened parse of a SOAP 1.1 envelope; any problem is a Client fault."""
    try:
        root = etree.fromstring(raw, parser=_RequestParser())
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Client", f"request is not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise SoapFault("Client", "DTDs and entity declarations are not allowed in requests")
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise SoapFault("Client", f"expected a SOAP 1.1 Envelope, got {root.tag}")
    body = root.find(f"{{{SOAP_ENV_NS}}}Body")
    operations = list(body.iterchildren(etree.Element)) if body is not None else []
    if len(operations) != 1:
        raise SoapFault("Client", "the SOAP Body must hold exactly one operation element")
    element = operations[0]
    qname = etree.QName(element)
    if qname.namespace != NS:
        raise SoapFault("Client", f"operation element must be in namespace {NS}, got {qname.namespace!r}")
    return SoapRequest(str(qname.localname), element, root.find(f"{{{SOAP_ENV_NS}}}Header"))


def envelope(fill: Callable[[etree._Element], None]) -> bytes:
    """An envelope built as an element tree: faults (lxml refuses a message XML cannot carry rather
    than sending it) and the tests' stub pages; responses are written as text (`pw_xml`)."""
    root = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soapenv": SOAP_ENV_NS, "pw": NS})
    fill(etree.SubElement(root, f"{{{SOAP_ENV_NS}}}Body"))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def fault_envelope(code: str, message: str) -> bytes:
    def fill(body: etree._Element) -> None:
        fault = etree.SubElement(body, f"{{{SOAP_ENV_NS}}}Fault")
        etree.SubElement(fault, "faultcode").text = f"soapenv:{code}"
        etree.SubElement(fault, "faultstring").text = message
    return envelope(fill)


def emit(parent: etree._Element, wire: dict[str, Any]) -> None:
    """Write a wire dict (from `WireSchema.to_wire`) as elements: how responses were built before
    `pw_xml`, kept as the reference its output is tested against and for tests that build pages."""
    for name, value in wire.items():
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(parent, f"{{{NS}}}{name}")
            if isinstance(item, dict):
                emit(child, item)
            else:
                child.text = lexical(item)


def response_envelope(operation: str, response: dict[str, Any]) -> bytes:
    """The response envelope; a list page's records arrive already rendered (`PWService.search`)."""
    schema = wire_schema()
    response_type = schema.element_type(f"{operation}Response")
    rendered = {k: v for k, v in response.items() if isinstance(v, list) and v and isinstance(v[0], pw_xml.Fragment)}
    wire, left = schema.to_wire({k: v for k, v in response.items() if k not in rendered}, response_type)
    if left:
        raise SoapFault("Server", f"{operation}: cannot encode {sorted(left)}")
    wire.update(rendered)  # the rendered list is named by its wire name (PW list items are never renamed)
    ordered = {f.wire: wire[f.wire] for f in schema.fields(response_type) if f.wire in wire}
    return pw_xml.response_envelope(f"{operation}Response", ordered)


class PWHandler(SandboxHandler):
    server_name = "pw"

    @property
    def service(self) -> PWService:
        service: PWService = self.server.options["service"]
        return service

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        found = url.path == SERVICE_PATH and url.query.lower() == "wsdl"
        self.state.log_request("pw", "GET", "wsdl", 200 if found else 404, self.path)
        if not found:
            self.send_body(404, b"not found\n", "text/plain")
            return
        wsdl = _wsdl_text().replace(_WSDL_PLACEHOLDER, self.server.base_url + SERVICE_PATH)
        self.send_body(200, wsdl.encode(), "text/xml; charset=utf-8")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != SERVICE_PATH:
            self.state.log_request("pw", "POST", "(unknown path)", 404, self.path)
            self.send_body(404, b"not found\n", "text/plain")
            return
        try:
            request = parse_envelope(self.read_body())
        except SoapFault as fault:
            self._answer("(invalid)", 500, fault_envelope(fault.code, fault.message))
            return
        self._serve(request)

    def _serve(self, request: SoapRequest) -> None:
        operation = request.operation
        faults = self.apply_transport_faults(operation, "POST")
        if faults is None:
            return
        kinds = {fault.kind for fault in faults}
        if "rate_limit" in kinds:
            self._answer(operation, 429, b"Too many requests\n", "text/plain")
            return
        if "error" in kinds:
            self._answer(operation, 500, fault_envelope("Server", f"{operation}: injected server error"))
            return
        try:
            user = self._authenticate(request.header)
            body = response_envelope(operation, self._call(request, user))
        except SoapFault as fault:
            self._answer(operation, 500, fault_envelope(fault.code, fault.message))
            return
        if "commit_then_drop" in kinds:
            self.state.log_request("pw", "POST", operation, 0, self.path)
            self.drop_connection()
            return
        self._answer(operation, 200, body)

    def _call(self, request: SoapRequest, user: str) -> dict[str, Any]:
        schema = wire_schema()
        try:
            wrapper_type = schema.element_type(request.operation)
        except SchemaLookupError:
            raise SoapFault("Client", f"unknown operation {request.operation!r}") from None
        try:
            arguments = schema.decode(request.body, wrapper_type, strict=True, path=request.operation)
        except WireValueError as exc:
            raise SoapFault("Client", f"invalid request: {exc}") from None
        return self.service.call(request.operation, arguments, user)

    def _authenticate(self, header: etree._Element | None) -> str:
        """The caller's user name, or a ``Client.Authentication`` fault."""
        expected_user, expected_password = self.server.options["credentials"]
        if self.server.options["auth_mode"] == "header":
            auth = header.find(f"{{{NS}}}AuthHeader") if header is not None else None
            user = auth.findtext(f"{{{NS}}}username") if auth is not None else None
            password = auth.findtext(f"{{{NS}}}password") if auth is not None else None
            where = "AuthHeader SOAP header"
        else:
            user, password = _basic_credentials(self.headers.get("Authorization", ""))
            where = "HTTP Basic Authorization header"
        if user is None or password is None:
            raise SoapFault("Client.Authentication", f"authentication required: send the {where}")
        good = hmac.compare_digest(user.encode(), expected_user.encode()) & hmac.compare_digest(
            password.encode(), expected_password.encode())
        if not good:
            raise SoapFault("Client.Authentication", "invalid username or password")
        return user

    def _answer(self, operation: str, status: int, body: bytes, content_type: str = "text/xml; charset=utf-8") -> None:
        self.state.log_request("pw", "POST", operation, status, self.path)
        self.send_body(status, body, content_type)


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)


def create_pw_server(state: SandboxState, *, port: int = 0, username: str, password: str, page_size: int = 100,
                     auth_mode: str = "basic") -> SandboxHTTPServer:
    """A PWServices sandbox bound to 127.0.0.1 (not started: call ``.start()`` / ``.stop()``)."""
    if auth_mode not in AUTH_MODES:
        raise ValueError(f"auth_mode must be one of {AUTH_MODES}, got {auth_mode!r}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be within 1-{MAX_PAGE_SIZE}, got {page_size}")
    wire_schema()  # parse the WSDL now: a broken WSDL should fail the start, not the first request
    return SandboxHTTPServer(PWHandler, state, port, service=PWService(state, page_size),
                             credentials=(username, password), auth_mode=auth_mode)
