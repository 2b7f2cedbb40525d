"""The sandbox admin API over real HTTP (docs/operations.md §4), against its own server and state."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from greenlight_dagster.sandbox.admin import create_admin_server
from greenlight_dagster.sandbox.generator import generate_fixture
from greenlight_dagster.sandbox.httpbase import SandboxHTTPServer
from greenlight_dagster.sandbox.state import SandboxState

WO = 900_001  # the first generated work order


@pytest.fixture(scope="module")
def module_state() -> SandboxState:
    return SandboxState(generate_fixture(0, "small"))


@pytest.fixture(scope="module")
def admin(module_state: SandboxState) -> Iterator[SandboxHTTPServer]:
    server = create_admin_server(module_state)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def state(admin: SandboxHTTPServer, module_state: SandboxState) -> SandboxState:
    """The served state, back at its starting world with no faults and an empty request log."""
    call(admin, "POST", "/reset")
    call(admin, "DELETE", "/requests")
    return module_state


def call(server: SandboxHTTPServer, method: str, path: str, body: Any = None, raw: bytes | None = None
         ) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(server.base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_listens_on_loopback_only(admin: SandboxHTTPServer) -> None:
    assert admin.server_address[0] == "127.0.0.1"


def test_get_state_is_the_fixture_format_snapshot(admin: SandboxHTTPServer, state: SandboxState) -> None:
    status, body = call(admin, "GET", "/state")
    assert status == 200
    assert body == state.snapshot()
    assert body["version"] == 1 and "_planted" in body


def test_patch_work_order_bumps_last_modified_to_the_sandbox_clock(admin: SandboxHTTPServer,
                                                                   state: SandboxState) -> None:
    _, clock = call(admin, "GET", "/clock")
    status, record = call(admin, "PATCH", f"/propertyware/workOrders/{WO}", {"status": "Completed", "id": 1})
    assert status == 200
    assert record["id"] == WO and record["status"] == "Completed"
    assert record["lastModifiedDateTime"] == clock["clock"]
    assert state.get("propertyware", "workOrders", WO)["status"] == "Completed"
    assert call(admin, "GET", "/clock")[1]["clock"] > clock["clock"]


def test_patch_sf_job_status_bumps_updated_at(admin: SandboxHTTPServer, state: SandboxState) -> None:
    job_id = state.snapshot()["servicefusion"]["jobs"][0]["id"]
    before = state.get("servicefusion", "jobs", job_id)["updated_at"]
    status, job = call(admin, "PATCH", f"/servicefusion/jobs/{job_id}", {"status": "Completed"})
    assert status == 200 and job["status"] == "Completed" and job["updated_at"] > before


def test_post_adds_records_and_never_replaces_one(admin: SandboxHTTPServer, state: SandboxState) -> None:
    next_id = state.next_id("propertyware", "vendors")
    status, vendor = call(admin, "POST", "/propertyware/vendors", {"name": "New Vendor"})
    assert status == 201 and vendor["id"] == next_id and vendor["createdDateTime"]
    status, job = call(admin, "POST", "/servicefusion/jobs/99999", {"customer_name": "Walk-in"})
    assert status == 201 and job["id"] == 99_999 and job["created_at"]
    status, body = call(admin, "POST", "/propertyware/vendors", {"id": next_id, "name": "Again"})
    assert status == 409 and "already exists" in body["error"]
    assert state.get("propertyware", "vendors", next_id)["name"] == "New Vendor"
    status, body = call(admin, "POST", "/servicefusion/jobs/5", {"id": 6})
    assert status == 400 and "differs" in body["error"]


def test_delete_removes_a_record(admin: SandboxHTTPServer, state: SandboxState) -> None:
    assert call(admin, "DELETE", f"/propertyware/workOrders/{WO}")[0] == 200
    assert WO not in state.table("propertyware", "workOrders")
    status, body = call(admin, "DELETE", f"/propertyware/workOrders/{WO}")
    assert status == 404 and str(WO) in body["error"]


def test_records_can_be_read_one_or_all(admin: SandboxHTTPServer, state: SandboxState) -> None:
    status, record = call(admin, "GET", f"/propertyware/workOrders/{WO}")
    assert status == 200 and record == state.get("propertyware", "workOrders", WO)
    status, records = call(admin, "GET", "/servicefusion/customers")
    assert status == 200 and records == state.snapshot()["servicefusion"]["customers"]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), [
    ("PATCH", "/propertyware/widgets/1", {}, 404, "unknown propertyware entity 'widgets'"),
    ("PATCH", "/propertyware/workOrders/1", {"status": "Open"}, 404, "propertyware workOrders 1 not found"),
    ("GET", "/nowhere", None, 404, "no admin endpoint GET /nowhere"),
    ("PUT", "/state", {}, 405, "/state accepts GET, not PUT"),
    ("PATCH", f"/propertyware/workOrders/{WO}", [1, 2], 400, "must be a JSON object"),
    ("POST", "/clock", {}, 400, 'give "now"'),
    ("POST", "/clock", {"now": "soon"}, 400, "not an ISO-8601 timestamp"),
    ("POST", "/clock", {"advance_seconds": "10"}, 400, "must be a number"),
    ("POST", "/faults", {"server": "pw", "kind": "explode"}, 400, "fault kind must be one of"),
    ("POST", "/faults", {"server": "pw", "kind": "error", "rates": 1}, 400, "unknown fault field(s) rates"),
    ("POST", "/faults", {"server": "pw", "kind": "error", "rate": 2}, 400, "within 0.0-1.0"),
    ("GET", "/requests?since=x", None, 400, "since must be a non-negative integer"),
    ("POST", "/fixture", {"propertyware": {"units": [{"name": "no id"}]}}, 400,
     "invalid fixture: propertyware.units[0].id: is missing"),
])
def test_errors_are_json_with_a_clear_message(admin: SandboxHTTPServer, state: SandboxState, method: str, path: str,
                                              body: Any, status: int, message: str) -> None:
    got_status, got = call(admin, method, path, body)
    assert (got_status, message in got["error"]) == (status, True), got


def test_invalid_json_body_is_a_400(admin: SandboxHTTPServer, state: SandboxState) -> None:
    status, body = call(admin, "PATCH", f"/propertyware/workOrders/{WO}", raw=b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]


def test_clock_can_be_set_and_advanced(admin: SandboxHTTPServer, state: SandboxState) -> None:
    now = {"now": "2026-02-01T08:00:00+00:00"}
    assert call(admin, "POST", "/clock", now) == (200, {"clock": "2026-02-01T08:00:00Z"})
    assert call(admin, "POST", "/clock", {"advance_seconds": 90}) == (200, {"clock": "2026-02-01T08:01:30Z"})
    _, record = call(admin, "PATCH", f"/propertyware/workOrders/{WO}", {"priority": "LOW"})
    assert record["lastModifiedDateTime"] == "2026-02-01T08:01:30Z"


def test_reset_restores_the_starting_world_and_clears_faults(admin: SandboxHTTPServer, state: SandboxState) -> None:
    start = state.snapshot()
    call(admin, "PATCH", f"/propertyware/workOrders/{WO}", {"status": "Closed"})
    call(admin, "POST", "/faults", {"server": "sf", "operation": "POST /jobs", "kind": "error"})
    assert call(admin, "POST", "/reset")[0] == 200
    assert state.snapshot() == start
    assert state.faults.rules() == []


def test_fixture_replaces_the_world_and_reset_goes_back_to_the_start(admin: SandboxHTTPServer,
                                                                     state: SandboxState) -> None:
    start = state.snapshot()
    tiny = {"version": 1, "clock": "2025-06-01T00:00:00Z",
            "propertyware": {"portfolios": [{"id": 1, "name": "Only"}]}}
    status, body = call(admin, "POST", "/fixture", tiny)
    assert status == 200 and body["counts"]["propertyware.portfolios"] == 1
    _, world = call(admin, "GET", "/state")
    assert world["clock"] == "2025-06-01T00:00:00Z"
    assert world["propertyware"]["portfolios"] == [{"id": 1, "name": "Only"}]
    assert world["propertyware"]["workOrders"] == []
    call(admin, "POST", "/reset")
    assert state.snapshot() == start


def test_faults_are_added_listed_and_cleared(admin: SandboxHTTPServer, state: SandboxState) -> None:
    rule = {"server": "pw", "operation": "getWorkOrders", "kind": "latency", "rate": 0.5, "ms": 20, "seed": 3}
    status, body = call(admin, "POST", "/faults", rule)
    assert status == 201 and body["rules"] == [rule]
    status, body = call(admin, "POST", "/faults", [{"server": "sf", "kind": "rate_limit"}])
    assert status == 201 and body["rules"][0]["operation"] == "*"
    status, listing = call(admin, "GET", "/faults")
    assert status == 200 and [r["kind"] for r in listing["rules"]] == ["latency", "rate_limit"]
    assert state.faults.decide("sf", "GET /jobs")[0].kind == "rate_limit"
    assert call(admin, "DELETE", "/faults") == (200, {"cleared": 2})
    assert state.faults.rules() == []


def test_request_log_since_and_clear(admin: SandboxHTTPServer, state: SandboxState) -> None:
    state.log_request("sf", "GET", "GET /jobs", 200, "/v1/jobs?sort=id")
    state.log_request("pw", "POST", "getWorkOrders", 500)
    status, body = call(admin, "GET", "/requests")
    assert status == 200 and [r["seq"] for r in body["requests"]] == [1, 2] and body["last_seq"] == 2
    assert body["requests"][0] == {"seq": 1, "server": "sf", "method": "GET", "operation": "GET /jobs",
                                   "path": "/v1/jobs?sort=id", "status": 200}
    _, since = call(admin, "GET", "/requests?since=1")
    assert [r["operation"] for r in since["requests"]] == ["getWorkOrders"]
    assert call(admin, "GET", "/requests?since=2")[1] == {"requests": [], "last_seq": 2}
    assert call(admin, "DELETE", "/requests") == (200, {"cleared": 2})
    assert state.request_log() == []


def test_admin_calls_are_not_logged(admin: SandboxHTTPServer, state: SandboxState) -> None:
    call(admin, "GET", "/state")
    call(admin, "PATCH", f"/propertyware/workOrders/{WO}", {"status": "Open"})
    assert call(admin, "GET", "/requests")[1]["requests"] == []
