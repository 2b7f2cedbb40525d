"""The PropertyWare PWServices sandbox as the vendor's legacy service is (docs/apis/propertyware.md §5-§6 items 12-16).

GET ``/pw/services/PWServices?wsdl`` serves the rpc/encoded WSDL generated from the packaged
signatures (`pw_wsdl`); POST ``/pw/services/PWServices`` takes SOAP 1.1 rpc/encoded envelopes
and answers as Apache Axis 1 does: ``<opResponse><opReturn>``, soapenc arrays, every struct a
``multiRef`` referenced by ``href="#idN"``, ``xsi:type`` on every value (`clients.pw_wire`).
Decision record: docs/decisions/0010.

**The fixture stays in REST names**; each record is mapped onto its legacy struct on the way
out (`pw_legacy.to_legacy`, driven by `pw_entities.LEGACY_FIELDS`) and requests are mapped back
(`pw_legacy.from_legacy`). A fixture field the struct has no place for is not sent, as the real
service could not send it; the structs carry no last-modified time.

Behaviour: search criteria select by ``ids``, ``lastModifiedOnOrAfter/OnOrBefore`` (and the
strict ``After``/``Before``), inclusive in UTC, and the entity filters in `LIST_OPERATIONS`;
``pageNumber`` is 1-based (0 or absent: the first page) and the **server** chooses the page
size (``page_size``). ``getAllPortfolios()`` and ``getVendors()`` take no criteria and answer
every record. Results are ordered by id ascending (``orderByNewestFirst``: last-modified
descending, then id descending). Every mutation goes through `SandboxState.patch` or
``upsert``, so it bumps ``lastModifiedDateTime``. Auth is HTTP Basic or an ``AuthHeader``
SOAP header (the real mechanism is unverified, item 16). Errors are SOAP Faults with HTTP 500:
``Client.Authentication`` for credentials, ``Client`` for bad input, ``Server`` for ours.
Request XML with a DTD is refused: entities are never expanded, nothing is fetched.

Speed (the sandbox must never be a benchmark's bottleneck): a list query's matching ids, in
order, are kept until its table changes (`SandboxState.derived`), and each record's rendered
XML per record version (`SandboxState.record_version`; a lease's also per version of the
contacts table, whose records it embeds); multiRef ids are renumbered per response by
`pw_wire.number_refs`. So a page costs a slice and a join, whatever the table's size, and any
mutation shows on the very next page.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from greenlight_dagster.clients import pw_wire
from greenlight_dagster.clients.pw_entities import LEGACY_DATE, LEGACY_DATETIME, PW_ENTITIES
from greenlight_dagster.clients.pw_legacy import TypeRef, from_legacy, signatures, to_legacy, to_legacy_date
from greenlight_dagster.clients.pw_wire import NS, SOAP_ENV_NS, Decoder, HostileXML, WireValueError, parse_utc
from greenlight_dagster.sandbox.httpbase import SandboxHandler, SandboxHTTPServer
from greenlight_dagster.sandbox.pw_wsdl import ADDRESS_PLACEHOLDER, wsdl_text
from greenlight_dagster.sandbox.state import NotFound, SandboxState

SERVICE_PATH = "/pw/services/PWServices"
MAX_PAGE_SIZE = 1000
AUTH_MODES = ("basic", "header")
PW = "propertyware"
CLOSED_STATUS = "Completed"  # what closeWorkOrder sets; one of core.statuses.DEFAULT_PW_TERMINAL
DEFAULT_CREATE_STATUS = "Open"
_SERVER_MANAGED = ("id", "createdDateTime", "lastModifiedDateTime")
#: Rendered records kept (~1.5 KB each): all of a medium world, a sixth of a large one.
FRAGMENT_CACHE_SIZE = 100_000
#: What ``malformed_success`` answers instead of the performed operation's envelope, in turn: a proxy's
#: HTML page, a truncated envelope, an empty body, and an envelope whose Body holds no response.
MALFORMED_ANSWERS = (
    ("text/html; charset=utf-8", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    ("text/xml; charset=utf-8", b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="' + SOAP_ENV_NS.encode()
     + b'"><soapenv:Body><ns1:upd'),
    ("text/xml; charset=utf-8", b""),
    ("text/xml; charset=utf-8", b'<soapenv:Envelope xmlns:soapenv="' + SOAP_ENV_NS.encode()
     + b'"><soapenv:Body/></soapenv:Envelope>'),
)


class SoapFault(Exception):
    """Answered as a SOAP 1.1 Fault with HTTP 500."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------- operations (no HTTP here)

@dataclass(frozen=True)
class ListOperation:
    """A search: the fixture table, its legacy struct, and the criteria fields it filters on."""

    entity: str
    struct: str
    equal: tuple[tuple[str, str], ...] = ()  # (criteria field, REST field compared for equality)
    contains: tuple[tuple[str, str], ...] = ()  # (criteria field, REST list field that must hold the value)


_FILTERS: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "getUnits": ((("buildingId", "buildingID"),), ()),
    "getContacts": ((("email", "email"),), ()),
    "getLeases": ((), (("tenantId", "tenantIDs"),)),
    "getWorkOrders": ((("portfolioId", "portfolioID"), ("buildingId", "buildingID"), ("unitId", "unitID"),
                       ("workOrderNumber", "number")), ()),
}
LIST_OPERATIONS = {
    e.soap_operation: ListOperation(e.fixture_key, e.soap_struct, *_FILTERS.get(e.soap_operation, ((), ())))
    for e in PW_ENTITIES
}
#: Time criteria the sandbox applies: name -> (record field, lower bound?, inclusive?).
_TIME_CRITERIA = {
    "lastModifiedOnOrAfter": (True, True), "lastModifiedAfter": (True, False),
    "lastModifiedOnOrBefore": (False, True), "lastModifiedBefore": (False, False),
}
#: Criteria fields the sandbox ignores by design (paging and order) or reads elsewhere.
_HANDLED = {"ids", "pageNumber", "orderByNewestFirst", "results", *_TIME_CRITERIA}


@dataclass(frozen=True)
class Rendered:
    """One record as served: its array item (``<item href>``) and its multiRefs, numbered from 0."""

    item: str
    refs: str


@dataclass(frozen=True)
class Page:
    """A list answer: the records already rendered, the array's declared type."""

    declared: TypeRef
    struct: str
    records: list[Rendered]


class PWService:
    """The operations on decoded legacy arguments; the HTTP handler only wraps them in SOAP."""

    def __init__(self, state: SandboxState, page_size: int) -> None:
        self.state = state
        self.page_size = page_size
        # Only touched under state.lock; entries carry the version they were made at.
        self._fragments: OrderedDict[tuple[str, int], tuple[tuple[int, int], Rendered]] = OrderedDict()
        self._stamps: dict[str, _Stamps] = {}

    def call(self, operation: str, arguments: dict[str, Any], user: str) -> Any:
        """Run one operation; its return value (a `Page` for searches). Raises `SoapFault` for bad input."""
        if operation in LIST_OPERATIONS:
            return self.search(operation, arguments.get("criteria") or {})
        handler = self._handlers().get(operation)
        if handler is None:
            raise SoapFault("Client", f"{operation} is a PWServices operation the sandbox does not implement")
        return handler(arguments, user)

    def _handlers(self) -> dict[str, Callable[[dict[str, Any], str], Any]]:
        return {
            "getWorkOrder": self.get_work_order,
            "createWorkOrder": self.create_work_order,
            "updateWorkOrder": self.update_work_order,
            "closeWorkOrder": self.close_work_order,
            "attachNoteToWorkOrder": self.attach_note,
            "echoString": lambda arguments, _user: arguments.get("arg"),
        }

    # ---- reads ----
    def search(self, operation: str, criteria: dict[str, Any]) -> Page:
        """One page (the server's page size) of a search, or everything for an operation without criteria."""
        op = LIST_OPERATIONS[operation]
        selected = _Selection(criteria, op)
        paged = signatures().takes_criteria(operation)
        page_number = criteria.get("pageNumber") or 1
        if page_number < 1:
            raise SoapFault("Client", f"pageNumber must be 1 or more (1-based), got {page_number}")
        with self.state.lock:
            matches = self._matching_ids(op.entity, selected)
            if paged:
                start = (page_number - 1) * self.page_size
                matches = matches[start:start + self.page_size]
            records = [self._fragment(op, record_id) for record_id in matches]
        returns = signatures().operation(operation).returns
        assert returns is not None
        return Page(returns, op.struct, records)

    def _matching_ids(self, entity: str, selected: _Selection) -> list[int]:
        """The ids the query matches, in its order; recomputed only after the table changed."""
        table, stamps = self.state.table(PW, entity), self._stamps.setdefault(entity, _Stamps())
        return self.state.derived(PW, entity, selected.key(), lambda: selected.select(table, stamps))

    def _fragment(self, op: ListOperation, record_id: int) -> Rendered:
        """The record as served, rendered again only after it (or a lease's contacts) changed."""
        version = (self.state.record_version(PW, op.entity, record_id),
                   self.state.table_version(PW, "contacts") if op.entity == "leases" else 0)
        key = (op.entity, record_id)
        cached = self._fragments.get(key)
        if cached is not None and cached[0] == version:
            self._fragments.move_to_end(key)
            return cached[1]
        writer = pw_wire.Writer(multiref=True)
        record = self.state.table(PW, op.entity)[record_id]
        item = writer.element("item", TypeRef(op.struct), self.legacy(op.struct, record))
        rendered = Rendered(item, "".join(writer.refs))
        self._fragments[key] = (version, rendered)
        if len(self._fragments) > FRAGMENT_CACHE_SIZE:
            self._fragments.popitem(last=False)
        return rendered

    def legacy(self, struct: str, record: dict[str, Any]) -> dict[str, Any]:
        """A fixture record as its legacy struct; a lease's tenants are their contact records."""
        return to_legacy(struct, record, contacts=self.state.table(PW, "contacts") if struct == "Lease" else None)

    def get_work_order(self, arguments: dict[str, Any], _user: str) -> dict[str, Any] | None:
        """``getWorkOrder(criteria)``: the first work order the criteria's ``ids`` name, or nil."""
        wanted = (arguments.get("criteria") or {}).get("ids") or []
        with self.state.lock:
            table = self.state.table(PW, "workOrders")
            found = next((table[i] for i in wanted if i in table), None)
            return self.legacy("WorkOrder", found) if found is not None else None

    # ---- writes ----
    def create_work_order(self, arguments: dict[str, Any], _user: str) -> dict[str, Any]:
        record = _client_fields(from_legacy("WorkOrder", arguments.get("workOrder") or {}))
        building_id = record.get("buildingID")
        with self.state.lock:
            if building_id not in self.state.table(PW, "buildings"):
                raise SoapFault("Client", f"createWorkOrder needs the building of an existing building, "
                                          f"got {building_id!r}")
            numbers = [r.get("number") for r in self.state.table(PW, "workOrders").values()]
            record.setdefault("number", max((n for n in numbers if isinstance(n, int)), default=0) + 1)
            record.setdefault("status", DEFAULT_CREATE_STATUS)
            return self.legacy("WorkOrder", self.state.upsert(PW, "workOrders", record))

    def update_work_order(self, arguments: dict[str, Any], _user: str) -> dict[str, Any]:
        changes = from_legacy("WorkOrder", arguments.get("workOrder") or {})
        if type(changes.get("id")) is not int:
            raise SoapFault("Client", "updateWorkOrder needs workOrder/ID")
        return self.legacy("WorkOrder", self._patch(changes["id"], _client_fields(changes)))

    def close_work_order(self, arguments: dict[str, Any], _user: str) -> bool:
        work_order_id = _id_argument(arguments, "workOrderID")
        completed = arguments.get("completedDate") or self.state.now().strftime(LEGACY_DATE)
        legacy = {"category": arguments.get("category"), "closingComments": arguments.get("closingComments"),
                  "completedDate": completed, "startDate": arguments.get("startDate")}
        changes = from_legacy("WorkOrder", {k: v for k, v in legacy.items() if v})
        self._patch(work_order_id, {**changes, "status": CLOSED_STATUS})
        return True

    def attach_note(self, arguments: dict[str, Any], user: str) -> dict[str, Any]:
        note = arguments.get("note") or {}
        target = arguments.get("workOrder") or {}
        text = note.get("body")
        if not isinstance(text, str) or not text.strip():
            raise SoapFault("Client", "attachNoteToWorkOrder: the note's body is empty")
        if type(target.get("ID")) is not int:
            raise SoapFault("Client", "attachNoteToWorkOrder needs workOrder/ID")
        with self.state.lock:
            record = self._work_order(target["ID"])
            notes = list(record.get("notes") or [])
            stamp = self.state.tick()
            notes.append({"note": text, "createdBy": user, "createdDateTime": stamp})
            self._patch(record["id"], {"notes": notes})
        return {"ID": len(notes), "body": text, "date": to_legacy_date(stamp, LEGACY_DATETIME)}

    def _patch(self, work_order_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            self._work_order(work_order_id)
            return copy.deepcopy(self.state.patch(PW, "workOrders", work_order_id, changes))

    def _work_order(self, work_order_id: int) -> dict[str, Any]:
        try:
            return self.state.get(PW, "workOrders", work_order_id)
        except NotFound:
            raise SoapFault("Client", f"work order {work_order_id} not found") from None


def _id_argument(arguments: dict[str, Any], name: str) -> int:
    """An id passed as ``xsd:string`` (``closeWorkOrder(workOrderID: string)``)."""
    value = arguments.get(name)
    text = str(value).strip() if value is not None else ""
    if not text.isdigit():
        raise SoapFault("Client", f"{name} must be a work order id, got {value!r}")
    return int(text)


class _Selection:
    """The record filter and order that one set of search criteria asks for."""

    def __init__(self, criteria: dict[str, Any], op: ListOperation) -> None:
        supported = _HANDLED | {name for name, _ in op.equal + op.contains}
        unsupported = sorted(k for k in criteria if k not in supported)
        if unsupported:
            raise SoapFault("Client", f"the sandbox does not filter by {', '.join(unsupported)}")
        self.ids = set(criteria.get("ids") or ())
        self.after: tuple[datetime, bool] | None = None
        self.before: tuple[datetime, bool] | None = None
        for name, (lower, inclusive) in _TIME_CRITERIA.items():
            moment = _criteria_time(criteria, name)
            if moment is not None:
                if lower:
                    self.after = (moment, inclusive)
                else:
                    self.before = (moment, inclusive)
        self.equal = [(field, criteria[name]) for name, field in op.equal if name in criteria]
        self.contains = [(field, criteria[name]) for name, field in op.contains if name in criteria]
        self.newest_first = bool(criteria.get("orderByNewestFirst"))

    def key(self) -> tuple[Any, ...]:
        """What decides the matching ids and their order (the page number does not)."""
        return (frozenset(self.ids), self.after, self.before, tuple(self.equal), tuple(self.contains),
                self.newest_first)

    def select(self, table: dict[int, dict[str, Any]], stamps: _Stamps) -> list[int]:
        """The matching ids in order: id ascending; newest first is (has a timestamp, timestamp, id) descending.

        Only what the criteria need is looked at: ``ids`` pick records directly, and timestamps
        are parsed only for a time window or newest-first order (and then once per value, `_Stamps`).
        """
        candidates = {i: table[i] for i in self.ids if i in table} if self.ids else table
        if self.equal:
            candidates = {i: r for i, r in candidates.items() if all(r.get(f) == v for f, v in self.equal)}
        if self.contains:
            candidates = {i: r for i, r in candidates.items()
                          if all(isinstance(r.get(f), list) and v in r[f] for f, v in self.contains)}
        if self.after is None and self.before is None and not self.newest_first:
            return sorted(candidates)
        stamped = stamps.of(candidates)
        if self.after is not None or self.before is not None:
            stamped = {i: s for i, s in stamped.items() if s[0] is not None and _within(s[0], self.after, self.before)}
        ids = sorted(stamped, reverse=self.newest_first)
        if self.newest_first:  # stable: equal timestamps stay id descending; no timestamp (-inf) comes last
            recency = {i: s[1] for i, s in stamped.items()}
            ids.sort(key=recency.__getitem__, reverse=True)
        return ids


def _within(moment: datetime, after: tuple[datetime, bool] | None, before: tuple[datetime, bool] | None) -> bool:
    if after is not None and (moment < after[0] or (moment == after[0] and not after[1])):
        return False
    return before is None or not (moment > before[0] or (moment == before[0] and not before[1]))


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
    except (ValueError, AttributeError):
        raise SoapFault("Client", f"{name} must be an ISO-8601 timestamp such as 2026-01-05T12:00:00Z, "
                                  f"got {value!r}") from None


def _modified(record: dict[str, Any]) -> datetime | None:
    try:
        return parse_utc(record["lastModifiedDateTime"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _client_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A work order as a client sent it, minus what only the server may set."""
    return {k: v for k, v in record.items() if k not in _SERVER_MANAGED}


# ---------------------------------------------------------------- SOAP over HTTP

@dataclass(frozen=True)
class SoapRequest:
    operation: str
    body: etree._Element
    call: etree._Element
    header: etree._Element | None


def parse_envelope(raw: bytes) -> SoapRequest:
    """Hardened parse of a SOAP 1.1 envelope; any problem is a Client fault."""
    try:
        root = pw_wire.parse_xml(raw)
    except HostileXML:
        raise SoapFault("Client", "DTDs and entity declarations are not allowed in requests") from None
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Client", f"request is not well-formed XML: {exc}") from None
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise SoapFault("Client", f"expected a SOAP 1.1 Envelope, got {root.tag}")
    body = root.find(f"{{{SOAP_ENV_NS}}}Body")
    calls = [el for el in body.iterchildren(etree.Element) if el.get("id") is None] if body is not None else []
    if body is None or len(calls) != 1:
        raise SoapFault("Client", "the SOAP Body must hold exactly one operation element (besides multiRefs)")
    qname = etree.QName(calls[0])
    if qname.namespace != NS:
        raise SoapFault("Client", f"operation element must be in namespace {NS}, got {qname.namespace!r}")
    return SoapRequest(str(qname.localname), body, calls[0], root.find(f"{{{SOAP_ENV_NS}}}Header"))


def decode_arguments(request: SoapRequest) -> dict[str, Any]:
    """The operation's parameters by name, decoded strictly against the signatures."""
    try:
        operation = signatures().operation(request.operation)
    except ValueError:
        raise SoapFault("Client", f"unknown operation {request.operation!r}") from None
    params = {p.name: p.type for p in operation.params}
    decoder = Decoder(request.body, strict=True)
    arguments: dict[str, Any] = {}
    for child in request.call.iterchildren(etree.Element):
        name = etree.QName(child).localname
        if name not in params:
            raise SoapFault("Client", f"{request.operation} has no parameter {name!r}")
        try:
            arguments[name] = decoder.value(child, params[name], f"{request.operation}/{name}")
        except WireValueError as exc:
            raise SoapFault("Client", f"invalid request: {exc}") from None
    return arguments


def fault_envelope(code: str, message: str) -> bytes:
    """A SOAP 1.1 Fault, built as a tree: lxml refuses a message XML cannot carry rather than sending it."""
    root = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soapenv": SOAP_ENV_NS})
    fault = etree.SubElement(etree.SubElement(root, f"{{{SOAP_ENV_NS}}}Body"), f"{{{SOAP_ENV_NS}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soapenv:{code}"
    etree.SubElement(fault, "faultstring").text = message
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def response_envelope(operation: str, result: Any) -> bytes:
    """``<operationResponse><operationReturn>`` as Axis 1 writes it: structs as numbered multiRefs."""
    returns = signatures().operation(operation).returns
    name = f"{operation}Return"
    if isinstance(result, Page):
        items, refs, base = [], [], 0
        for record in result.records:
            item, _ = pw_wire.number_refs(record.item, base)
            rendered, count = pw_wire.number_refs(record.refs, base)
            items.append(item)
            refs.append(rendered)
            base += count
        item_type = "xsd:anyType" if result.declared.name == "anyType" else f"tns1:{result.struct}"
        inner = (f'<{name} xsi:type="soapenc:Array" soapenc:arrayType="{item_type}[{len(items)}]">'
                 f'{"".join(items)}</{name}>')
        body = f'<ns1:{operation}Response{pw_wire.ENCODED}>{inner}</ns1:{operation}Response>{"".join(refs)}'
        return pw_wire.envelope(body)
    writer = pw_wire.Writer(multiref=True)
    wrapper = pw_wire.call_element(f"{operation}Response", [(name, returns, result)] if returns else [], writer)
    body, _ = pw_wire.number_refs(wrapper + "".join(writer.refs), 0)
    return pw_wire.envelope(body)


class PWHandler(SandboxHandler):
    server_name = "pw"

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The HTTP ``Date`` header in the sandbox's clock: a real server dates its answers by the
        clock it stamps records with, and the client keeps its SOAP high-water mark in that time."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return format_datetime(self.state.now(), usegmt=True)

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
        wsdl = wsdl_text().replace(ADDRESS_PLACEHOLDER, self.server.base_url + SERVICE_PATH)
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
            body = response_envelope(operation, self.service.call(operation, decode_arguments(request), user))
        except SoapFault as fault:
            self._answer(operation, 500, fault_envelope(fault.code, fault.message))
            return
        if "commit_then_drop" in kinds:
            self.state.log_request("pw", "POST", operation, 0, self.path)
            self.drop_connection()
            return
        if "malformed_success" in kinds:
            self.state.log_request("pw", "POST", operation, 200, self.path)
            self.send_malformed_success(200, MALFORMED_ANSWERS)
            return
        self._answer(operation, 200, body)

    def _authenticate(self, header: etree._Element | None) -> str:
        """The caller's user name, or a ``Client.Authentication`` fault."""
        expected_user, expected_password = self.server.options["credentials"]
        if self.server.options["auth_mode"] == "header":
            auth = header.find(f"{{{NS}}}AuthHeader") if header is not None else None
            user = _child_text(auth, "username")
            password = _child_text(auth, "password")
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


def _child_text(element: etree._Element | None, name: str) -> str | None:
    """A child's text whether the child is namespace-qualified or not."""
    if element is None:
        return None
    for child in element.iterchildren(etree.Element):
        if etree.QName(child).localname == name:
            return child.text or ""
    return None


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
    """A PWServices sandbox bound to 127.0.0.1 (not started: call ``.start()`` / ``.stop()``).

    ``page_size`` is the number of records per search page: the server's choice, as on the real service.
    """
    if auth_mode not in AUTH_MODES:
        raise ValueError(f"auth_mode must be one of {AUTH_MODES}, got {auth_mode!r}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be within 1-{MAX_PAGE_SIZE}, got {page_size}")
    wsdl_text()  # generate the WSDL now: a broken signatures file should fail the start, not the first request
    return SandboxHTTPServer(PWHandler, state, port, service=PWService(state, page_size),
                             credentials=(username, password), auth_mode=auth_mode)
