"""The ServiceFusion sandbox against docs/apis/servicefusion.md §7, over real HTTP on 127.0.0.1.

`sf_world` and `running_server` are shared with the client tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from greenlight_dagster.sandbox.httpbase import SandboxHTTPServer
from greenlight_dagster.sandbox.sf_server import create_sf_server
from greenlight_dagster.sandbox.state import SandboxState

CLIENT_ID = "greenlight-test"
CLIENT_SECRET = "s3cret-value"
JOB_COUNT = 25
FIRST_UPDATE = datetime(2025, 12, 1, 10, tzinfo=UTC)


def sf_world(jobs: int = JOB_COUNT) -> dict[str, Any]:
    """A small SF account: two customers, ``jobs`` jobs updated one day apart from 2025-12-01 (ids 8000...)."""
    customers = [
        {"id": 7000, "customer_name": "Oak Holdings", "parent_customer": None,
         "contacts": [{"id": 1, "fname": "Ana", "lname": "Ruiz", "is_primary": True,
                       "emails": [{"email": "ana@oak.example"}], "phones": [{"phone": "512-555-0101"}]}],
         "locations": [{"id": 1, "street_1": "12 Oak St", "city": "Austin", "postal_code": "78701",
                        "is_primary": True}],
         "custom_fields": [{"name": "PW Portfolio ID", "value": "1"}],
         "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-02T00:00:00Z"},
        {"id": 7001, "customer_name": "Elm Street LLC", "contacts": [], "locations": [
            {"id": 2, "street_1": "3 Elm St", "city": "Dallas", "postal_code": "75201", "is_primary": True}],
         "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-03T00:00:00Z"},
    ]
    statuses = ("Scheduled", "Started", "Completed")
    job_list = [
        {"id": 8000 + i, "number": str(i + 1), "customer_id": 7000, "customer_name": "Oak Holdings",
         "status": statuses[i % 3], "po_number": f"PW-{9000 + i}", "check_number": str(1000 + i),
         "description": f"Job {i}", "custom_fields": [{"name": "PW Work Order ID", "value": str(9000 + i)}],
         "techs_assigned": [], "notes": [{"id": i + 1, "notes": "called ahead"}],
         "created_at": "2025-11-01T00:00:00Z",
         "updated_at": (FIRST_UPDATE + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for i in range(jobs)
    ]
    return {"version": 1, "clock": "2026-01-05T12:00:00Z",
            "servicefusion": {"customers": customers, "jobs": job_list}}


@contextmanager
def running_server(state: SandboxState, **options: Any) -> Iterator[SandboxHTTPServer]:
    """A started sandbox with the test credentials; stopped on exit whatever happens."""
    server = create_sf_server(state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


ServerFactory = Callable[..., tuple[SandboxHTTPServer, SandboxState]]


@pytest.fixture
def make_server() -> Iterator[ServerFactory]:
    stack: list[Any] = []

    def make(world: dict[str, Any] | None = None, **options: Any) -> tuple[SandboxHTTPServer, SandboxState]:
        state = SandboxState(world or sf_world())
        context = running_server(state, **{"hang_seconds": 0.3, **options})
        stack.append(context)
        return context.__enter__(), state

    yield make
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def sf(make_server: ServerFactory) -> tuple[SandboxHTTPServer, SandboxState]:
    return make_server()


def get_token(server: SandboxHTTPServer, **extra: Any) -> dict[str, Any]:
    body = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **extra}
    resp = requests.post(f"{server.base_url}/oauth/access_token", json=body, timeout=5)
    assert resp.status_code == 200, resp.text
    token: dict[str, Any] = resp.json()
    return token


class Api:
    """requests against ``/v1`` with a bearer token."""

    def __init__(self, server: SandboxHTTPServer, token: str | None = None) -> None:
        self.base = f"{server.base_url}/v1"
        self.token = token or get_token(server)["access_token"]

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=kwargs.pop("timeout", 5), **kwargs)

    def items(self, path: str, **params: Any) -> list[dict[str, Any]]:
        resp = self("GET", path, params=params)
        assert resp.status_code == 200, resp.text
        items: list[dict[str, Any]] = resp.json()["items"]
        return items


@pytest.fixture
def api(sf: tuple[SandboxHTTPServer, SandboxState]) -> Api:
    return Api(sf[0])


# ---- OAuth2 ----
def test_token_endpoint_accepts_json_and_form_and_rotates_refresh_tokens(sf: tuple[SandboxHTTPServer, Any]) -> None:
    server, _ = sf
    token = get_token(server)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert token["access_token"] and token["refresh_token"]
    url = f"{server.base_url}/oauth/access_token"
    form = requests.post(url, data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                    "client_secret": CLIENT_SECRET}, timeout=5)
    assert form.status_code == 200 and form.json()["access_token"] != token["access_token"]

    refreshed = requests.post(url, json={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                              timeout=5)
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != token["refresh_token"]
    reused = requests.post(url, json={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                           timeout=5)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_token_endpoint_refuses_bad_credentials_and_grants(sf: tuple[SandboxHTTPServer, Any]) -> None:
    url = f"{sf[0].base_url}/oauth/access_token"
    bad = requests.post(url, json={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                   "client_secret": "wrong"}, timeout=5)
    assert bad.status_code == 401
    assert bad.json() == {"error": "invalid_client", "error_description": "Client authentication failed."}
    assert requests.post(url, json={"grant_type": "password"}, timeout=5).json()["error"] == "unsupported_grant_type"
    assert requests.post(url, data="{", headers={"Content-Type": "application/json"}, timeout=5).status_code == 400


def test_resource_auth_header_or_query_but_not_both(sf: tuple[SandboxHTTPServer, SandboxState]) -> None:
    server, state = sf
    token = get_token(server)["access_token"]
    base = f"{server.base_url}/v1/me"
    missing = requests.get(base, timeout=5)
    assert missing.status_code == 401 and missing.json()["code"] == 401 and missing.json()["name"] == "Unauthorized"
    assert requests.get(base, params={"access_token": token}, timeout=5).json()["email"]
    both = requests.get(base, params={"access_token": token}, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert both.status_code == 400 and both.json()["code"] == 400
    assert requests.get(base, headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
    assert all(token not in entry["path"] for entry in state.request_log())


def test_tokens_expire_on_real_time(make_server: ServerFactory) -> None:
    server, _ = make_server(token_ttl_seconds=1)
    api = Api(server)
    assert api("GET", "/me").status_code == 200
    time.sleep(1.1)
    assert api("GET", "/me").status_code == 401


# ---- rate limit ----
def test_rate_limit_is_a_fixed_window_per_token(make_server: ServerFactory) -> None:
    server, _ = make_server(rate_limit_per_minute=3, rate_window_seconds=1.0)
    api = Api(server)
    remaining = [api("GET", "/me").headers["X-Rate-Limit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    limited = api("GET", "/me")
    assert limited.status_code == 429
    assert limited.json()["code"] == 429 and limited.json()["name"] == "Too Many Requests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 1
    assert int(limited.headers["X-Rate-Limit-Reset"]) >= int(time.time())
    assert Api(server)("GET", "/me").status_code == 200  # another token, another window
    time.sleep(1.05)
    assert api("GET", "/me").status_code == 200


def test_retry_after_can_be_switched_off(make_server: ServerFactory) -> None:
    server, _ = make_server(rate_limit_per_minute=1, retry_after=False)
    api = Api(server)
    api("GET", "/me")
    limited = api("GET", "/me")
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    assert limited.headers["X-Rate-Limit-Remaining"] == "0"


# ---- lists ----
def test_pagination_envelope_headers_and_page_past_the_end(api: Api) -> None:
    resp = api("GET", "/jobs", params={"sort": "id"})
    body = resp.json()
    assert body["_meta"] == {"totalCount": JOB_COUNT, "pageCount": 3, "currentPage": 1, "perPage": 10}
    assert [j["id"] for j in body["items"]] == list(range(8000, 8010))
    assert resp.headers["X-Pagination-Page-Count"] == "3" and resp.headers["X-Pagination-Total-Count"] == "25"
    past = api("GET", "/jobs", params={"sort": "id", "page": 7}).json()
    assert past["_meta"]["currentPage"] == 3 and [j["id"] for j in past["items"]] == list(range(8020, 8025))
    assert api("GET", "/jobs", params={"sort": "id", "per-page": 500}).json()["_meta"]["perPage"] == 50
    assert api("GET", "/jobs", params={"sort": "id", "per-page": 0}).json()["_meta"]["perPage"] == 1
    empty = api("GET", "/jobs", params={"sort": "id", "filters[po_number]": "nothing"}).json()
    assert empty["items"] == [] and empty["_meta"]["pageCount"] == 0


def test_sort_descending_multi_key_and_unknown_field(api: Api) -> None:
    assert [j["id"] for j in api.items("/jobs", sort="-updated_at", **{"per-page": 3})] == [8024, 8023, 8022]
    by_status = api.items("/jobs", sort="status,-id", **{"per-page": 50})
    assert [j["status"] for j in by_status] == sorted(j["status"] for j in by_status)
    assert by_status[0]["id"] == 8023  # highest id among "Completed"
    bad = api("GET", "/jobs", params={"sort": "colour"})
    assert bad.status_code == 400 and "colour" in bad.json()["message"]
    assert [c["id"] for c in api.items("/customers")] == [7000, 7001]


def test_unsorted_jobs_hang_then_drop(sf: tuple[SandboxHTTPServer, SandboxState], api: Api) -> None:
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        api("GET", "/jobs")
    assert time.monotonic() - started >= 0.3
    assert sf[1].request_log()[-1]["status"] == 0


def test_unsorted_jobs_hang_wakes_on_server_stop(make_server: ServerFactory) -> None:
    server, _ = make_server(hang_seconds=30.0)
    api = Api(server)
    outcome: list[str] = []

    def call() -> None:
        try:
            api("GET", "/jobs", timeout=20)
            outcome.append("answered")
        except requests.RequestException:
            outcome.append("dropped")

    worker = threading.Thread(target=call)
    started = time.monotonic()
    worker.start()
    time.sleep(0.2)
    server.stop()
    worker.join(10)
    assert outcome == ["dropped"] and time.monotonic() - started < 5


@pytest.mark.parametrize(("mode", "delay"), [("slow", 0.3), ("id", 0.0)])
def test_unsorted_jobs_slow_or_by_id(make_server: ServerFactory, mode: str, delay: float) -> None:
    server, _ = make_server(unsorted_jobs=mode)
    started = time.monotonic()
    items = Api(server).items("/jobs")
    assert time.monotonic() - started >= delay
    assert [j["id"] for j in items] == list(range(8000, 8010))


def test_filters_partial_full_list_and_ranges(api: Api) -> None:
    every = {"per-page": 50, "sort": "id"}
    assert len(api.items("/jobs", **every, **{"filters[po_number]": "PW-901"})) == 10  # partial: 9010..9019
    statuses = {j["status"] for j in api.items("/jobs", **every, **{"filters[status]": "Started,completed"})}
    assert statuses == {"Started", "Completed"}
    window = api.items("/jobs", **every, **{"filters[updated_date][gte]": "2025-12-03T10:00:00+00:00",
                                            "filters[updated_date][lte]": "2025-12-05"})
    assert [j["id"] for j in window] == [8002, 8003, 8004]
    assert api("GET", "/jobs", params={**every, "filters[updated_date][gte]": "yesterday"}).status_code == 400
    assert len(api.items("/jobs", **every, **{"filters[no_such_filter]": "x"})) == JOB_COUNT
    assert [c["id"] for c in api.items("/customers", **{"filters[name]": "oak"})] == [7000]
    assert api.items("/customers", **{"filters[city]": "Aust"}) == []  # full match
    assert [c["id"] for c in api.items("/customers", **{"filters[city]": "austin"})] == [7000]
    assert [c["id"] for c in api.items("/customers", **{"filters[contact_first_name]": "an"})] == [7000]


def test_fields_and_expand(api: Api) -> None:
    plain = api("GET", "/jobs", params={"sort": "id", "per-page": 1}).json()
    assert "custom_fields" not in plain["items"][0] and "notes" not in plain["items"][0]
    assert plain["_expandable"] == ["custom_fields", "techs_assigned", "notes"]
    expanded = api("GET", "/jobs", params={"sort": "id", "per-page": 1, "expand": "notes"}).json()
    assert expanded["items"][0]["notes"] == [{"id": 1, "notes": "called ahead"}]
    assert expanded["_expandable"] == ["custom_fields", "techs_assigned"]
    narrow = api.items("/jobs", sort="id", fields="id,po_number", **{"per-page": 1})
    assert narrow == [{"id": 8000, "po_number": "PW-9000"}]
    one = api("GET", "/customers/7000", params={"expand": "contacts,locations"}).json()
    assert one["contacts"][0]["fname"] == "Ana" and "custom_fields" not in one
    assert one["_expandable"] == ["custom_fields"]


def test_reference_resources_and_by_id(api: Api) -> None:
    assert api("GET", "/me").json()["id"] == 1
    assert [s["code"] for s in api.items("/job-statuses", **{"per-page": 3})] == ["01_UNS", "02_SCH", "03_DSP"]
    assert api.items("/job-categories")[0] == {"id": 1, "name": "Plumbing"}
    assert api("GET", "/techs/1").json()["first_name"] == "Sam"
    assert api("GET", "/job-statuses/2").json()["name"] == "Scheduled"
    missing = api("GET", "/jobs/999")
    assert missing.status_code == 404 and missing.json()["name"] == "Not Found"
    assert api("GET", "/invoices").status_code == 404


# ---- creates ----
def test_create_customer_with_contacts_locations_and_primary_demotion(
        sf: tuple[SandboxHTTPServer, SandboxState], api: Api) -> None:
    body = {"customer_name": "Maple Tenants", "parent_customer": "oak holdings",
            "contacts": [{"fname": "Bo", "lname": "Lee", "is_primary": True},
                         {"fname": "Cy", "lname": "Ng", "is_primary": True,
                          "phones": [{"phone": "1", "type": "Mobile"}]}],
            "locations": [{"street_1": "1 Maple Ave", "is_primary": True, "customer_contact": "Cy Ng"}],
            "custom_fields": [{"name": "PW Tenant ID", "value": "500"}]}
    resp = api("POST", "/customers", json=body)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["parent_customer"] == "Oak Holdings"
    assert created["fully_qualified_name"] == "Oak Holdings:Maple Tenants"
    assert [c["is_primary"] for c in created["contacts"]] == [False, True]
    assert created["contacts"][1]["phones"][0]["is_mobile"] is True
    assert created["locations"][0]["customer_contact"] == "Cy Ng"
    assert created["created_at"] == created["updated_at"] == "2026-01-05T12:00:00Z"
    assert sf[1].sf["customers"][created["id"]]["customer_name"] == "Maple Tenants"


def test_create_validation_is_a_422_array_and_stores_nothing(
        sf: tuple[SandboxHTTPServer, SandboxState], api: Api) -> None:
    customer = api("POST", "/customers", json={"contacts": [{"fname": "Bo"}], "locations": [{"city": "Austin"}]})
    assert customer.status_code == 422
    assert {e["field"] for e in customer.json()} == {"customer_name", "contacts[0].lname", "locations[0].street_1"}
    job = api("POST", "/jobs", json={"customer_name": "Nobody Inc", "status": "Teleported", "category": "Magic"})
    assert job.status_code == 422
    assert [e["field"] for e in job.json()] == ["customer_name", "status", "category"]
    assert all(set(e) == {"field", "message"} for e in job.json())
    assert len(sf[1].sf["jobs"]) == JOB_COUNT and len(sf[1].sf["customers"]) == 2


def test_create_job_resolves_references_and_reuses_contacts(
        sf: tuple[SandboxHTTPServer, SandboxState], api: Api) -> None:
    body = {"customer_name": 7001, "status": "02_SCH", "category": "plumbing", "po_number": "PW-77",
            "check_number": 1001, "contact_first_name": "Ana", "contact_last_name": "Ruiz",
            "techs_assigned": [{"id": 2}, {"first_name": "Sam", "last_name": "Ortiz"}],
            "custom_fields": [{"name": "PW Work Order ID", "value": "77"}]}
    resp = api("POST", "/jobs", json=body)
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert job["number"] == str(JOB_COUNT + 1) and isinstance(job["number"], str)
    assert (job["customer_id"], job["customer_name"]) == (7001, "Elm Street LLC")
    assert (job["status"], job["category"], job["check_number"]) == ("Scheduled", "Plumbing", "1001")
    assert [t["id"] for t in job["techs_assigned"]] == [2, 1]
    assert job["created_at"] == job["updated_at"]
    again = api("POST", "/jobs", json={"customer_name": "Elm Street LLC", "contact_first_name": "Ana",
                                       "contact_last_name": "Ruiz"})
    assert again.status_code == 201 and again.json()["status"] == "Unscheduled"
    contacts = sf[1].sf["customers"][7001]["contacts"]
    assert [(c["fname"], c["lname"]) for c in contacts] == [("Ana", "Ruiz")]  # added once, then reused


def test_no_update_or_delete_and_body_errors(api: Api) -> None:
    for method in ("PUT", "PATCH", "DELETE"):
        resp = api(method, "/jobs/8000", json={"status": "Completed"})
        assert resp.status_code == 405 and resp.json()["name"] == "Method Not Allowed"
    assert api("POST", "/job-statuses", json={"name": "X"}).status_code == 405
    wrong_type = api("POST", "/jobs", data="customer_name=Oak", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and wrong_type.json()["code"] == 415
    malformed = api("POST", "/jobs", data="{nope", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400


# ---- faults and the request log ----
def test_injected_error_rate_limit_and_commit_then_drop(sf: tuple[SandboxHTTPServer, SandboxState], api: Api) -> None:
    _, state = sf
    state.faults.add({"server": "sf", "operation": "GET /customers", "kind": "error"})
    error = api("GET", "/customers")
    assert error.status_code == 500
    assert error.json() == {"code": 500, "name": "Internal server error.", "message": error.json()["message"]}
    state.faults.clear()
    state.faults.add({"server": "sf", "operation": "GET /techs", "kind": "rate_limit"})
    limited = api("GET", "/techs")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    state.faults.clear()
    state.faults.add({"server": "sf", "operation": "POST /jobs", "kind": "commit_then_drop"})
    with pytest.raises(requests.ConnectionError):
        api("POST", "/jobs", json={"customer_name": 7000, "po_number": "PW-55"})
    assert [j["po_number"] for j in state.sf["jobs"].values()].count("PW-55") == 1
    log = state.request_log()
    assert [(e["method"], e["operation"], e["status"]) for e in log[-3:]] == [
        ("GET", "/customers", 500), ("GET", "/techs", 429), ("POST", "/jobs", 0)]
    assert all(e["server"] == "sf" for e in log)
