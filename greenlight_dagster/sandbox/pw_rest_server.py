"""The PropertyWare REST v1 sandbox: the vendor's OpenAPI document, for the paths the sync uses.

It serves ``/pw/api/rest/v1`` over the same `SandboxState` as the SOAP server, so a work order
closed through either API, or changed through the admin API, shows through both at once. The
document (``contracts/propertyware-rest-v1.openapi.json``) is read at start and drives what it
can: the query parameters each list accepts and their types, and the schemas records are
shaped by. What the document cannot say comes from `clients.pw_entities` (paths, sortable
fields, permissions) and from docs/apis/propertyware.md §1-3:

* **Auth**: the three ``x-propertyware-*`` headers; a missing or wrong one is 401, a key
  without the entity's Read (GET) or Write (POST/PUT) permission 403 - keys carry permission
  sets (`RestKey`). ``beta_writes=False`` refuses the BETA close as an account that has not
  opted in. Errors are ``ErrorResponse`` ``{errorCode, userMessage, errors[]}``, except 404
  (no schema in the document: an empty body).
* **Routing** is exact: a wrong-case path, a path without the version, or a mis-cased
  ``limit``/``offset`` is 404; a POST/PUT that is not JSON is 415.
* **Lists**: bare arrays with ``X-Total-Count``; ``offset`` (0) and ``limit`` (100, above 500
  served as 500); ``orderby=a asc,b desc`` over the endpoint's sortable fields only (400
  otherwise), ties by id; ``lastModifiedDateTimeStart/End`` inclusive in UTC (a record whose
  timestamp cannot be parsed is left out of windowed reads); equality filters for every
  declared parameter that names a field of the record (contacts ``type``, work orders
  ``buildingID``/``status``/...). A declared filter the sandbox does not model (``vacant``,
  date ranges) is a 400 saying so, never silently ignored.
* **Records** are the fixture's (REST names already), shaped by their schema: ``null`` and
  ``customFields`` (unless ``includeCustomFields``) left out, a lease's tenants as its
  ``contacts`` (LeaseContact), a boolean ``multiUnit`` as the document's "Multi Family" /
  "Single Family" text. Fields the schema does not declare are served as they are (fixture
  format: unknown fields are kept), and so are enum values outside the document: the live API
  sends them (docs/apis/propertyware.md §3).
* **Writes**: ``POST /workorders`` (SaveWorkOrder: ``buildingID`` required, no ``status``;
  201 + WorkOrder) and ``PUT /workorders/closeworkorder/{workOrderID}`` (CloseWorkOrder:
  ``timeCardEntry[]`` of existing vendors required; 200 + ResponseEntity holding the work
  order). Bodies are checked against their schema; a field it does not declare is a 400, so a
  client that believes it can set ``status`` on create finds out here. There is no general
  work-order update, as in REST v1. Every mutation bumps ``lastModifiedDateTime``.
* **Rate limit**: ``rate_limit_per_second`` per key (None: none), answered 429 with an
  ``ErrorResponse`` and no ``Retry-After``.
* **Faults and the request log** as for the other servers: server ``pw``, operation
  ``"METHOD /template"`` with the document's template (``"GET /workorders"``,
  ``"PUT /workorders/closeworkorder/{workOrderID}"``); ``error`` is a 500 ErrorResponse,
  ``rate_limit`` a 429, ``commit_then_drop`` applies a write and hangs up, ``malformed_success`` applies it
  and answers its 2xx with an unreadable body (`MALFORMED_JSON_BODIES`).
"""

from __future__ import annotations

import copy
import functools
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from greenlight_dagster.clients.pw_entities import PW_ENTITIES, PwEntity
from greenlight_dagster.core.fields import as_timestamp
from greenlight_dagster.sandbox.httpbase import MALFORMED_JSON_BODIES, SandboxHandler, SandboxHTTPServer
from greenlight_dagster.sandbox.pw_server import CLOSED_STATUS, DEFAULT_CREATE_STATUS
from greenlight_dagster.sandbox.sf_auth import RateLimiter
from greenlight_dagster.sandbox.state import SandboxState

OPENAPI_PATH = Path(__file__).parent.parent / "contracts" / "propertyware-rest-v1.openapi.json"
API_PREFIX = "/pw/api/rest/v1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
PW = "propertyware"
HEADERS = ("x-propertyware-client-id", "x-propertyware-client-secret", "x-propertyware-system-id")
#: Sortable names (lower case, the document's) that are not a field name in another case.
SORT_FIELDS = {"createddate": "createdDateTime", "vendortype": "type", "scheduledmoveoutdate": "scheduleMoveOutDate"}
#: Values of the fixture that the document types differently, as the live API writes them.
VALUE_FORMS: dict[tuple[str, str], dict[Any, str]] = {
    ("Building", "multiUnit"): {True: "Multi Family", False: "Single Family"},
}
#: Parameters every list handles itself; the rest are filters.
PAGING = ("offset", "limit", "orderby", "lastModifiedDateTimeStart", "lastModifiedDateTimeEnd", "includeCustomFields")
_WORK_ORDERS = next(e for e in PW_ENTITIES if e.fixture_key == "workOrders")
_CLOSE_PATH = "/workorders/closeworkorder/{workOrderID}"


@functools.cache
def openapi() -> dict[str, Any]:
    """The vendor's document, parsed once per process."""
    document: dict[str, Any] = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    return document


def schema(name: str) -> dict[str, Any]:
    found: dict[str, Any] = openapi()["components"]["schemas"][name]
    return found


def _resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    return schema(ref.rsplit("/", 1)[1]) if isinstance(ref, str) else node


class RestError(Exception):
    """An error answer: ``ErrorResponse`` with the status (404: an empty body, as documented)."""

    def __init__(self, status: int, code: str, message: str, errors: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> bytes:
        if self.status == 404:
            return b""
        return json.dumps({"errorCode": self.code, "userMessage": self.message,
                           "errors": [{"key": k, "message": m} for k, m in self.errors]}).encode()


@dataclass(frozen=True)
class RestKey:
    """One API key: its credentials and what it may do.

    ``permissions`` maps an entity's permission name (``WORK ORDERS``) to the levels granted
    (``Read``, ``Write``, ``Delete``); None grants everything. ``read_only`` allows GET only.
    """

    client_id: str
    client_secret: str = field(repr=False)
    system_id: str
    permissions: Mapping[str, frozenset[str]] | None = None
    read_only: bool = False

    def may(self, permission: str, level: str) -> bool:
        if self.read_only and level != "Read":
            return False
        return self.permissions is None or level in self.permissions.get(permission, frozenset())


@dataclass(frozen=True)
class Route:
    """A path template of the document this sandbox answers, and what a request on it needs."""

    method: str
    template: str
    pattern: re.Pattern[str]
    entity: PwEntity | None
    action: str  # list | get | create | close | health
    level: str = "Read"

    @property
    def operation(self) -> str:
        return f"{self.method} {self.template}"


def _route(method: str, template: str, entity: PwEntity | None, action: str, level: str = "Read") -> Route:
    regex = re.sub(r"\\\{[^}]+\\\}", "(?P<id>[^/]+)", re.escape(template))
    return Route(method, template, re.compile(regex), entity, action, level)


def _routes() -> tuple[Route, ...]:
    """One list and one by-id route per entity path (contacts once), the health check and the two writes."""
    by_path = {e.rest_path: e for e in PW_ENTITIES}
    routes = [_route("GET", "/health", None, "health")]
    for entity in by_path.values():
        routes += [_route("GET", entity.rest_path, entity, "list"), _route("GET", entity.rest_item_path, entity, "get")]
    return (*routes, _route("POST", _WORK_ORDERS.rest_path, _WORK_ORDERS, "create", "Write"),
            _route("PUT", _CLOSE_PATH, _WORK_ORDERS, "close", "Write"))


ROUTES = _routes()


def match(method: str, path: str) -> tuple[Route | None, str | None, bool]:
    """(route, its id segment, whether the path exists under another method)."""
    if not path.startswith(API_PREFIX + "/"):
        return None, None, False
    rest = path[len(API_PREFIX):]
    other = False
    for route in ROUTES:
        found = route.pattern.fullmatch(rest)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict().get("id"), False
        other = True
    return None, None, other


# ---------------------------------------------------------------- values and shaping

def _parse_datetime(name: str, text: str) -> datetime:
    """``yyyy-MM-dd'T'HH:mm:ssXXX`` (the document's date-time format) as an aware UTC datetime."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", text):
        raise RestError(400, "INVALID_PARAMETER", f"{name} must look like 2026-01-05T12:00:00Z, got {text!r}",
                        [(name, "invalid date-time")])
    parsed = as_timestamp(text)
    if parsed is None:
        raise RestError(400, "INVALID_PARAMETER", f"{name} is not a valid date-time: {text!r}",
                        [(name, "invalid date-time")])
    return parsed


def _parameter(name: str, text: str, spec: Mapping[str, Any]) -> Any:
    """A query value converted per its schema in the document; 400 when it is not of that type."""
    kind, fmt = spec.get("type"), spec.get("format")
    try:
        if kind == "integer":
            if not re.fullmatch(r"-?\d+", text):
                raise ValueError
            return int(text)
        if kind == "boolean":
            return {"true": True, "false": False}[text.lower()]
    except (ValueError, KeyError):
        raise RestError(400, "INVALID_PARAMETER", f"{name} must be {'an integer' if kind == 'integer' else 'a boolean'}"
                        f", got {text!r}", [(name, f"invalid {kind}")]) from None
    if fmt == "date-time":
        return _parse_datetime(name, text)
    if "enum" in spec and text not in spec["enum"]:
        raise RestError(400, "INVALID_PARAMETER", f"{name} must be one of {spec['enum']}, got {text!r}",
                        [(name, "invalid value")])
    return text


def _operation_parameters(route: Route) -> dict[str, Mapping[str, Any]]:
    operation = openapi()["paths"][route.template][route.method.lower()]
    return {p["name"]: p["schema"] for p in operation.get("parameters", []) if p.get("in") == "query"}


def shape(entity: PwEntity, record: Mapping[str, Any], contacts: Mapping[int, Mapping[str, Any]],
          *, custom_fields: bool) -> dict[str, Any]:
    """The record as the REST API serves it (module docstring, "Records")."""
    properties = schema(entity.rest_schema)["properties"]
    served: dict[str, Any] = {}
    for name, value in record.items():
        if (name in properties and value is None) or (name == "customFields" and not custom_fields):
            continue
        form = VALUE_FORMS.get((entity.rest_schema, name))
        served[name] = form.get(value, value) if form is not None and isinstance(value, bool) else value
    if entity.fixture_key == "leases" and "tenantIDs" in served:
        tenant_ids, primary = served.pop("tenantIDs"), served.pop("primaryContactID", None)
        served["contacts"] = [_lease_contact(contacts[t], t == primary)
                              for t in (tenant_ids if isinstance(tenant_ids, list) else [])
                              if isinstance(t, int) and t in contacts]
    return served


def _lease_contact(contact: Mapping[str, Any], primary: bool) -> dict[str, Any]:
    declared = schema("LeaseContact")["properties"]
    return {**{k: v for k, v in contact.items() if k in declared and v is not None}, "primary": primary}


def check_body(name: str, value: Any, node: Mapping[str, Any], path: str = "") -> list[tuple[str, str]]:
    """What is wrong with ``value`` as an instance of the schema ``node`` (field errors, empty when valid)."""
    node = _resolve(node)
    where = path or name
    kind = node.get("type", "object" if "properties" in node else None)
    if kind == "object":
        if not isinstance(value, dict):
            return [(where, "must be an object")]
        properties = node.get("properties", {})
        errors = [(f"{path}.{k}" if path else k, "is required") for k in node.get("required", ()) if k not in value]
        errors += [(f"{path}.{k}" if path else k, f"is not a field of {name}") for k in value if k not in properties]
        for key, item in value.items():
            if key in properties:
                errors += check_body(name, item, properties[key], f"{path}.{key}" if path else key)
        return errors
    if kind == "array":
        if not isinstance(value, list):
            return [(where, "must be an array")]
        items = node.get("items", {})
        return [e for i, item in enumerate(value) for e in check_body(name, item, items, f"{where}[{i}]")]
    checks: dict[str, Callable[[Any], bool]] = {
        "integer": lambda v: type(v) is int, "number": lambda v: type(v) in (int, float),
        "boolean": lambda v: type(v) is bool, "string": lambda v: isinstance(v, str)}
    if kind in checks and not checks[kind](value):
        return [(where, f"must be {kind}")]
    if "enum" in node and value not in node["enum"]:
        return [(where, f"must be one of {node['enum']}")]
    if node.get("format") == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return [(where, "must be a date YYYY-MM-DD")]
    return []


# ---------------------------------------------------------------- the service (no HTTP)

@dataclass(frozen=True)
class Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


class RestService:
    """The endpoints on plain values; the handler wraps them in HTTP."""

    def __init__(self, state: SandboxState, *, beta_writes: bool = True) -> None:
        self.state = state
        self.beta_writes = beta_writes

    def call(self, route: Route, record_id: str | None, query: dict[str, str], body: Any) -> Reply:
        if route.action == "health":
            return Reply(200, {"body": {"status": "UP"}, "statusCode": "200"})
        entity = route.entity
        assert entity is not None  # every route but the health check is an entity's
        if route.action == "list":
            return self.list(route, entity, query)
        if route.action == "create":
            return self.create_work_order(body)
        identifier = _path_id(route, record_id)
        if route.action == "get":
            return self.get(route, entity, identifier, query)
        if not self.beta_writes:
            raise RestError(403, "FORBIDDEN", "closing a work order is a BETA write; this account has not opted "
                                              "into the beta program")
        return self.close_work_order(identifier, body)

    # ---- reads ----
    def list(self, route: Route, entity: PwEntity, query: dict[str, str]) -> Reply:
        declared = _operation_parameters(route)
        values = {name: _parameter(name, text, declared[name]) for name, text in query.items() if name in declared}
        properties = schema(entity.rest_schema)["properties"]
        unmodelled = sorted(n for n in values if n not in PAGING and n not in properties)
        if unmodelled:
            raise RestError(400, "UNSUPPORTED_PARAMETER", f"the sandbox does not model the filter(s) {unmodelled}",
                            [(n, "not supported by the sandbox") for n in unmodelled])
        offset = values.get("offset", 0)
        limit = min(values.get("limit", DEFAULT_LIMIT), MAX_LIMIT)
        if offset < 0 or limit < 1:
            raise RestError(400, "INVALID_PARAMETER", "offset must be 0 or more and limit 1 or more",
                            [("offset" if offset < 0 else "limit", "out of range")])
        order = _order(entity, query.get("orderby"))
        equal = tuple(sorted((n, v) for n, v in values.items() if n not in PAGING))
        start, end = values.get("lastModifiedDateTimeStart"), values.get("lastModifiedDateTimeEnd")
        custom = values.get("includeCustomFields", False)
        with self.state.lock:
            table = self.state.table(PW, entity.fixture_key)
            ids = self.state.derived(PW, entity.fixture_key, ("rest", equal, start, end, order),
                                     lambda: _select(table, equal, start, end, order))
            contacts = self.state.table(PW, "contacts")
            page = [shape(entity, table[i], contacts, custom_fields=custom) for i in ids[offset:offset + limit]]
            page = copy.deepcopy(page)
        return Reply(200, page, {"X-Total-Count": str(len(ids))})

    def get(self, route: Route, entity: PwEntity, record_id: int, query: dict[str, str]) -> Reply:
        declared = _operation_parameters(route)
        custom_text = query.get("includeCustomFields")
        custom = (_parameter("includeCustomFields", custom_text, declared["includeCustomFields"])
                  if custom_text is not None else entity is _WORK_ORDERS)
        with self.state.lock:
            record = self.state.table(PW, entity.fixture_key).get(record_id)
            if record is None:
                raise RestError(404, "NOT_FOUND", "Entity not found")
            return Reply(200, copy.deepcopy(shape(entity, record, self.state.table(PW, "contacts"),
                                                  custom_fields=custom)))

    # ---- writes ----
    def create_work_order(self, body: Any) -> Reply:
        _refuse(check_body("SaveWorkOrder", body, schema("SaveWorkOrder")))
        with self.state.lock:
            building = self.state.table(PW, "buildings").get(body["buildingID"])
            if building is None:
                raise RestError(400, "INVALID_REQUEST", f"building {body['buildingID']} does not exist",
                                [("buildingID", "not found")])
            unit_ids = body.get("unitIDs") or []
            units = self.state.table(PW, "units")
            foreign = [u for u in unit_ids if units.get(u, {}).get("buildingID") != building["id"]]
            if foreign:
                raise RestError(400, "INVALID_REQUEST", f"units {foreign} are not units of building {building['id']}",
                                [("unitIDs", "not units of the building")])
            # unitIDs is stored as the fixture's unitID: the document types WorkOrder.unitIDs as a bare
            # object (Collection_long_), which no list of ids validates against.
            record = {k: v for k, v in body.items()
                      if k not in ("requestedBy", "hourToEnter", "minuteToEnter", "unitIDs")}
            record.update(portfolioID=building.get("portfolioID"), status=DEFAULT_CREATE_STATUS,
                          number=self.state.high_water(PW, "workOrders", "number", _number) + 1)
            if unit_ids:
                record["unitID"] = unit_ids[0]
            if "dateToEnter" in body:
                record["dateToEnter"] = (f"{body['dateToEnter']}T{body.get('hourToEnter', 0):02d}:"
                                         f"{body.get('minuteToEnter', 0):02d}:00Z")
            requester = self.state.table(PW, "contacts").get(body.get("requestedBy", -1))
            if requester is not None:
                record["requestedBy"] = " ".join(filter(None, (requester.get("firstName"), requester.get("lastName"))))
            stored = self.state.upsert(PW, "workOrders", record)
            return Reply(201, copy.deepcopy(shape(_WORK_ORDERS, stored, {}, custom_fields=True)))

    def close_work_order(self, work_order_id: int, body: Any) -> Reply:
        _refuse(check_body("CloseWorkOrder", body, schema("CloseWorkOrder")))
        with self.state.lock:
            vendors = self.state.table(PW, "vendors")
            unknown = [e["vendorID"] for e in body["timeCardEntry"] if e["vendorID"] not in vendors]
            if unknown:
                raise RestError(400, "INVALID_REQUEST", f"vendors {unknown} do not exist",
                                [("timeCardEntry.vendorID", "not found")])
            if work_order_id not in self.state.table(PW, "workOrders"):
                raise RestError(404, "NOT_FOUND", "Entity not found")
            changes = {"status": CLOSED_STATUS,
                       "completedDate": body.get("completedDate") or self.state.now().date().isoformat()}
            for ours, theirs in (("category", "category"), ("closingComments", "comments"), ("startDate", "startDate")):
                if body.get(theirs):
                    changes[ours] = body[theirs]
            stored = self.state.patch(PW, "workOrders", work_order_id, changes)
            return Reply(200, {"body": copy.deepcopy(shape(_WORK_ORDERS, stored, {}, custom_fields=True)),
                               "statusCode": "200"})


def _refuse(errors: list[tuple[str, str]]) -> None:
    if errors:
        raise RestError(400, "INVALID_REQUEST", "; ".join(f"{k} {m}" for k, m in errors), errors)


def _number(record: dict[str, Any]) -> int:
    number = record.get("number")
    return number if type(number) is int else 0


def _path_id(route: Route, text: str | None) -> int:
    if text is None or not re.fullmatch(r"\d+", text):
        raise RestError(400, "INVALID_PARAMETER", f"{route.template}: the id must be an integer, got {text!r}",
                        [("id", "invalid integer")])
    return int(text)


Order = tuple[tuple[str, bool], ...]  # (record field, descending)


def _order(entity: PwEntity, orderby: str | None) -> Order:
    """``orderby`` parsed against the endpoint's sortable fields (case-insensitive); id ascending breaks ties."""
    if not orderby:
        return (("id", False),)
    properties = {name.lower(): name for name in schema(entity.rest_schema)["properties"]}
    order: list[tuple[str, bool]] = []
    for part in orderby.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise RestError(400, "INVALID_PARAMETER", f"orderby must be 'field[ asc|desc][,...]', got {orderby!r}",
                            [("orderby", "invalid syntax")])
        name = words[0].lower()
        if name not in entity.rest_sortable:
            raise RestError(400, "INVALID_PARAMETER", f"{entity.rest_path} cannot be sorted by {words[0]!r}; "
                            f"sortable: {', '.join(entity.rest_sortable)}", [("orderby", "not sortable")])
        order.append((SORT_FIELDS.get(name) or properties[name], len(words) == 2 and words[1].lower() == "desc"))
    return (*order, ("id", False))


def _sort_key(value: Any) -> tuple[int, Any]:
    """Missing values last; numbers before text; never comparing across types."""
    if value is None:
        return (2, 0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def _select(table: Mapping[int, Mapping[str, Any]], equal: tuple[tuple[str, Any], ...], start: datetime | None,
            end: datetime | None, order: Order) -> list[int]:
    """The matching table keys in order (ids by the key: a record may hold a broken ``id`` value)."""
    rows = [(key, r) for key, r in table.items() if all(r.get(name) == value for name, value in equal)]
    if start is not None or end is not None:
        def within(record: Mapping[str, Any]) -> bool:
            modified = as_timestamp(record.get("lastModifiedDateTime"))
            return modified is not None and (start is None or modified >= start) and (end is None or modified <= end)
        rows = [(key, r) for key, r in rows if within(r)]
    for name, descending in reversed(order):
        rows.sort(key=lambda row: _sort_key(row[0] if name == "id" else row[1].get(name)), reverse=descending)
    return [key for key, _ in rows]


# ---------------------------------------------------------------- HTTP

@dataclass
class RestSettings:
    service: RestService
    keys: tuple[RestKey, ...]
    limiter: RateLimiter | None


class PWRestHandler(SandboxHandler):
    server_name = "pw"

    def do_GET(self) -> None:
        self.handle_api("GET")

    def do_POST(self) -> None:
        self.handle_api("POST")

    def do_PUT(self) -> None:
        self.handle_api("PUT")

    def do_DELETE(self) -> None:
        self.handle_api("DELETE")

    @property
    def settings(self) -> RestSettings:
        settings: RestSettings = self.server.options["rest"]
        return settings

    def handle_api(self, method: str) -> None:
        raw = self.read_body()  # always: keeps a keep-alive connection in step even on errors
        split = urlsplit(self.path)
        route, record_id, other_method = match(method, split.path)
        operation = route.operation if route is not None else f"{method} {split.path}"
        faults = self.apply_transport_faults(operation, method)
        if faults is None:
            return
        kinds = {fault.kind for fault in faults}
        try:
            reply = self.answer(method, route, other_method, record_id, split.query, raw, kinds)
        except RestError as exc:
            self.state.log_request("pw", method, operation, exc.status, self.path)
            self.send_body(exc.status, exc.body(), "application/json")
            return
        if "commit_then_drop" in kinds:
            self.state.log_request("pw", method, operation, 0, self.path)
            self.drop_connection()
            return
        self.state.log_request("pw", method, operation, reply.status, self.path)
        if "malformed_success" in kinds and 200 <= reply.status < 300:
            self.send_malformed_success(reply.status, MALFORMED_JSON_BODIES, reply.headers)
            return
        self.send_json(reply.status, reply.payload, reply.headers)

    def answer(self, method: str, route: Route | None, other_method: bool, record_id: str | None, query_text: str,
               raw: bytes, kinds: set[str]) -> Reply:
        if route is None:
            if other_method:
                raise RestError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {urlsplit(self.path).path}")
            raise RestError(404, "NOT_FOUND", "not found")
        pairs = parse_qsl(query_text, keep_blank_values=True)
        if any(name.lower() in ("limit", "offset") and name not in ("limit", "offset") for name, _ in pairs):
            raise RestError(404, "NOT_FOUND", "limit and offset are case-sensitive")
        if "error" in kinds:
            raise RestError(500, "INTERNAL_SERVER_ERROR", "An unexpected error occurred (injected).")
        if "rate_limit" in kinds:
            raise RestError(429, "TOO_MANY_REQUESTS", "Too many requests too quickly (injected).")
        key = self.authenticate()
        if route.entity is not None and not key.may(route.entity.rest_permission, route.level):
            raise RestError(403, "FORBIDDEN", f"this API key lacks {route.entity.rest_permission} - {route.level}")
        limiter = self.settings.limiter
        if limiter is not None and not limiter.hit(key.client_id).allowed:
            raise RestError(429, "TOO_MANY_REQUESTS", "Too many requests too quickly; back off and retry.")
        body = self.json_body(raw) if method in ("POST", "PUT") else None
        return self.settings.service.call(route, record_id, dict(pairs), body)

    def authenticate(self) -> RestKey:
        given = [self.headers.get(name) for name in HEADERS]  # header names are case-insensitive here
        if any(value is None for value in given):
            missing = [name for name, value in zip(HEADERS, given, strict=True) if value is None]
            raise RestError(401, "UNAUTHORIZED", "missing API key headers", [(m, "required") for m in missing])
        for key in self.settings.keys:
            expected = (key.client_id, key.client_secret, key.system_id)
            if all(hmac.compare_digest(str(g).encode(), e.encode()) for g, e in zip(given, expected, strict=True)):
                return key
        raise RestError(401, "UNAUTHORIZED", "invalid API key or organization", [("x-propertyware-client-id",
                                                                                  "invalid credentials")])

    def json_body(self, raw: bytes) -> Any:
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media != "application/json":
            raise RestError(415, "UNSUPPORTED_MEDIA_TYPE", f"send Content-Type: application/json, not {media!r}")
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise RestError(400, "INVALID_REQUEST", "the request body is not valid JSON") from None


def create_pw_rest_server(state: SandboxState, *, port: int = 0, client_id: str, client_secret: str,
                          system_id: str, permissions: Mapping[str, frozenset[str]] | None = None,
                          read_only: bool = False, extra_keys: Sequence[RestKey] = (), beta_writes: bool = True,
                          rate_limit_per_second: int | None = 10) -> SandboxHTTPServer:
    """A REST v1 sandbox on 127.0.0.1 (not started: call ``.start()``/``.stop()``) under ``/pw/api/rest/v1``.

    The key from the arguments (with ``permissions``/``read_only``) and any ``extra_keys`` are accepted.
    """
    openapi()  # read the document now: a broken one should fail the start, not the first request
    keys = (RestKey(client_id, client_secret, system_id, permissions, read_only), *extra_keys)
    limiter = RateLimiter(rate_limit_per_second, 1.0, scope="token") if rate_limit_per_second else None
    settings = RestSettings(RestService(state, beta_writes=beta_writes), keys, limiter)
    return SandboxHTTPServer(PWRestHandler, state, port, rest=settings)

