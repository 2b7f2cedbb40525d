"""The sandbox admin API (docs/operations.md §4): drive the sandbox world the way users and tests must.

Why a separate HTTP server rather than calls into `SandboxState`: the sandbox usually runs in
another process (``greenlight sandbox serve``, the demo), and people rehearsing a sync change
records "as a user would" from scripts or curl. Everything answers JSON; every error is
``{"error": "<one sentence>"}`` with 400 (bad input), 404 (no such record, entity or endpoint),
405 (known path, wrong method) or 409 (adding a record whose id exists). Admin calls are not
written to the request log, which records what the PW and SF servers received, and no fault
rule ever applies to them.

Additions over §4, kept deliberately small: ``GET /clock``, ``GET /faults`` (active rules and
how often each kind fired), ``GET /{system}/{entity}[/{id}]`` and ``DELETE /requests``.
``POST /reset`` restores the starting world *and* clears the fault rules (the sandbox started
without any); the request log is kept so that ``?since=N`` cursors stay valid.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from greenlight_dagster.sandbox.generator import FixtureError, entity_counts, validate_fixture
from greenlight_dagster.sandbox.httpbase import SandboxHandler, SandboxHTTPServer
from greenlight_dagster.sandbox.state import NotFound, SandboxState, format_ts

FAULT_FIELDS = frozenset({"server", "operation", "kind", "rate", "ms", "seed"})


class AdminError(Exception):
    """An answer other than success: HTTP status and one clear sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class AdminRequest:
    """What a route needs from the request: path parameters, query string and body."""

    params: dict[str, str]
    query: dict[str, list[str]]
    body: bytes

    def json(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise AdminError(400, f"request body is not valid JSON: {exc}") from None

    def json_object(self, what: str) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise AdminError(400, f"request body must be a JSON object ({what})")
        return data

    def system(self) -> str:
        return self.params["system"]

    def record_id(self) -> int | None:
        raw = self.params.get("id")
        return int(raw) if raw is not None else None


Reply = tuple[int, Any]
Route = Callable[[SandboxState, AdminRequest], Reply]


def clear_request_log(state: SandboxState) -> int:
    """Forget the requests received so far (sequence numbers start again at 1)."""
    with state.lock:
        dropped = len(state.requests)
        state.requests.clear()
        return dropped


# ---- whole-state routes ----
def reset(state: SandboxState, _request: AdminRequest) -> Reply:
    state.reset()
    state.faults.clear()
    return 200, {"ok": True, "clock": format_ts(state.now())}


def load_fixture(state: SandboxState, request: AdminRequest) -> Reply:
    try:
        fixture = validate_fixture(request.json())
    except FixtureError as exc:
        raise AdminError(400, f"invalid fixture: {exc}") from None
    state.load(fixture)
    return 200, {"ok": True, "clock": format_ts(state.now()), "counts": entity_counts(fixture)}


def get_state(state: SandboxState, _request: AdminRequest) -> Reply:
    return 200, state.snapshot()


def get_clock(state: SandboxState, _request: AdminRequest) -> Reply:
    return 200, {"clock": format_ts(state.now())}


def set_clock(state: SandboxState, request: AdminRequest) -> Reply:
    body = request.json_object('{"now": "<ISO-8601>"} or {"advance_seconds": N}')
    now, advance = body.get("now"), body.get("advance_seconds")
    if now is None and advance is None:
        raise AdminError(400, 'give "now" (an ISO-8601 timestamp) or "advance_seconds" (a number)')
    if now is not None and not isinstance(now, str):
        raise AdminError(400, f'"now" must be an ISO-8601 string, got {now!r}')
    if advance is not None and (isinstance(advance, bool) or not isinstance(advance, int | float)):
        raise AdminError(400, f'"advance_seconds" must be a number, got {advance!r}')
    try:
        clock = state.set_clock(now=now, advance_seconds=advance)
    except ValueError:
        raise AdminError(400, f'"now" is not an ISO-8601 timestamp: {now!r}') from None
    return 200, {"clock": format_ts(clock)}


# ---- record routes ----
def list_records(state: SandboxState, request: AdminRequest) -> Reply:
    with state.lock:
        table = state.table(request.system(), request.params["entity"])
        return 200, [copy.deepcopy(table[key]) for key in sorted(table)]


def get_record(state: SandboxState, request: AdminRequest) -> Reply:
    with state.lock:
        return 200, copy.deepcopy(state.get(request.system(), request.params["entity"], request.record_id() or 0))


def add_record(state: SandboxState, request: AdminRequest) -> Reply:
    """Add a record (id from the path, the body, or the next free one); never replace one."""
    system, entity = request.system(), request.params["entity"]
    record = request.json_object("the record to add")
    path_id = request.record_id()
    if path_id is not None and record.setdefault("id", path_id) != path_id:
        raise AdminError(400, f"body id {record['id']!r} differs from the id {path_id} in the path")
    with state.lock:
        table = state.table(system, entity)
        if record.get("id") is not None:
            try:
                record["id"] = int(record["id"])
            except (TypeError, ValueError):
                raise AdminError(400, f"id must be an integer, got {record['id']!r}") from None
            if record["id"] in table:
                raise AdminError(409, f"{system} {entity} {record['id']} already exists; PATCH it instead")
        return 201, copy.deepcopy(state.upsert(system, entity, record))


def patch_record(state: SandboxState, request: AdminRequest) -> Reply:
    changes = request.json_object("the fields to change")
    with state.lock:
        record = state.patch(request.system(), request.params["entity"], request.record_id() or 0, changes)
        return 200, copy.deepcopy(record)


def delete_record(state: SandboxState, request: AdminRequest) -> Reply:
    system, entity, record_id = request.system(), request.params["entity"], request.record_id() or 0
    state.delete(system, entity, record_id)
    return 200, {"deleted": {"system": system, "entity": entity, "id": record_id}}


# ---- faults and the request log ----
def add_faults(state: SandboxState, request: AdminRequest) -> Reply:
    """One rule (an object) or several (a list); all are checked before any is added."""
    body = request.json()
    specs = body if isinstance(body, list) else [body]
    for spec in specs:
        if not isinstance(spec, dict):
            raise AdminError(400, "a fault rule must be a JSON object")
        if unknown := sorted(set(spec) - FAULT_FIELDS):
            raise AdminError(400, f"unknown fault field(s) {', '.join(unknown)}; expected {sorted(FAULT_FIELDS)}")
    try:
        rules = [state.faults.add(spec).as_dict() for spec in specs]
    except (TypeError, ValueError) as exc:
        raise AdminError(400, f"invalid fault rule: {exc}") from None
    return 201, {"rules": rules}


def list_faults(state: SandboxState, _request: AdminRequest) -> Reply:
    return 200, {"rules": state.faults.rules(), "fired": dict(state.faults.fired)}


def clear_faults(state: SandboxState, _request: AdminRequest) -> Reply:
    cleared = len(state.faults.rules())
    state.faults.clear()
    return 200, {"cleared": cleared}


def list_requests(state: SandboxState, request: AdminRequest) -> Reply:
    raw = (request.query.get("since") or ["0"])[-1]
    if not raw.isdigit():
        raise AdminError(400, f"since must be a non-negative integer, got {raw!r}")
    entries = state.request_log(int(raw))
    return 200, {"requests": entries, "last_seq": entries[-1]["seq"] if entries else int(raw)}


def delete_requests(state: SandboxState, _request: AdminRequest) -> Reply:
    return 200, {"cleared": clear_request_log(state)}


_RECORDS = r"/(?P<system>propertyware|servicefusion)/(?P<entity>[A-Za-z_]+)"
_RECORD = _RECORDS + r"/(?P<id>[0-9]+)"
ROUTES: tuple[tuple[str, dict[str, Route]], ...] = (
    ("/reset", {"POST": reset}),
    ("/fixture", {"POST": load_fixture}),
    ("/state", {"GET": get_state}),
    ("/clock", {"GET": get_clock, "POST": set_clock}),
    ("/faults", {"GET": list_faults, "POST": add_faults, "DELETE": clear_faults}),
    ("/requests", {"GET": list_requests, "DELETE": delete_requests}),
    (_RECORDS, {"GET": list_records, "POST": add_record}),
    (_RECORD, {"GET": get_record, "POST": add_record, "PATCH": patch_record, "DELETE": delete_record}),
)
_COMPILED = tuple((re.compile(f"^{pattern}/?$"), methods) for pattern, methods in ROUTES)


def route(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route function for a request and its path parameters; AdminError 404/405 otherwise."""
    for pattern, methods in _COMPILED:
        if match := pattern.match(path):
            if method not in methods:
                raise AdminError(405, f"{path} accepts {', '.join(sorted(methods))}, not {method}")
            return methods[method], match.groupdict()
    raise AdminError(404, f"no admin endpoint {method} {path} (docs/operations.md §4 lists them)")


class AdminHandler(SandboxHandler):
    """Dispatches every method through `route`; errors become JSON with a clear message."""

    server_name = "admin"

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PATCH(self) -> None:
        self.dispatch("PATCH")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def dispatch(self, method: str) -> None:
        body = self.read_body()  # always read: keeps a keep-alive connection in step on errors
        split = urlsplit(self.path)
        try:
            handler, params = route(method, split.path)
            status, payload = handler(self.state, AdminRequest(params, parse_qs(split.query), body))
        except AdminError as exc:
            status, payload = exc.status, {"error": exc.message}
        except NotFound as exc:
            status, payload = 404, {"error": str(exc.args[0])}
        except (TypeError, ValueError) as exc:
            status, payload = 400, {"error": f"invalid request: {exc}"}
        self.send_json(status, payload)


def create_admin_server(state: SandboxState, *, port: int = 0) -> SandboxHTTPServer:
    """The admin API on 127.0.0.1 (not started: call ``.start()`` / ``.stop()``)."""
    return SandboxHTTPServer(AdminHandler, state, port)
