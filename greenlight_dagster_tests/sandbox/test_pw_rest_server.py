"""The PropertyWare REST v1 sandbox against the vendor's document and docs/apis/propertyware.md §1-3.

Every request goes through `ContractSession`, which validates each answer against the shipped
OpenAPI document; only the requests on paths the document does not have (wrong case, no
version) use a plain session.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import Any

import pytest
import requests

from greenlight_dagster.sandbox.pw_rest_server import RestKey
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.sandbox.state import parse_ts
from greenlight_dagster_tests.sandbox.pw_rest_contract import ContractSession

LIST_PATHS = ("/portfolios", "/buildings", "/units", "/leases", "/contacts", "/vendors", "/workorders")


@pytest.fixture(scope="module")
def keyed_sandbox() -> Iterator[Sandbox]:
    read_only = RestKey("reader", "reader-secret", "42", read_only=True)
    no_work_orders = RestKey("places", "places-secret", "42",
                             permissions={"BUILDINGS": frozenset({"Read"}), "WORK ORDERS": frozenset()})
    with Sandbox(seed=3, scale="small",
                 pw_rest_options={"rate_limit_per_second": None, "extra_keys": (read_only, no_work_orders)}) as running:
        yield running


@pytest.fixture
def api(keyed_sandbox: Sandbox) -> Iterator[ContractSession]:
    keyed_sandbox.reset()
    with ContractSession(keyed_sandbox.info) as session:
        yield session


def table(keyed_sandbox: Sandbox, key: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = keyed_sandbox.state.snapshot()["propertyware"][key]
    return records


def read_all(api: ContractSession, path: str, **params: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    while True:
        page = api.call("GET", path, params={**params, "offset": len(records), "limit": 500})
        assert page.status_code == 200, page.text
        records += page.json()
        if len(records) >= int(page.headers["X-Total-Count"]):
            return records


def test_every_list_is_a_bare_array_with_its_total_and_validates(api: ContractSession, keyed_sandbox: Sandbox) -> None:
    for path, key in zip(LIST_PATHS, ("portfolios", "buildings", "units", "leases", "contacts", "vendors",
                                      "workOrders"), strict=True):
        records = read_all(api, path)
        assert [r["id"] for r in records] == sorted(r["id"] for r in table(keyed_sandbox, key)), path
        first = api.call("GET", f"{path}/{records[0]['id']}")
        assert first.status_code == 200 and first.json()["id"] == records[0]["id"]
    assert len(api.checked) >= 14


def test_records_are_shaped_by_their_schema(api: ContractSession, keyed_sandbox: Sandbox) -> None:
    lease = table(keyed_sandbox, "leases")[0]
    served = api.call("GET", f"/leases/{lease['id']}").json()
    assert "tenantIDs" not in served and "primaryContactID" not in served
    assert {c["id"] for c in served["contacts"]} == set(lease["tenantIDs"])
    assert [c["id"] for c in served["contacts"] if c["primary"]] == [lease["primaryContactID"]]
    building = next(b for b in table(keyed_sandbox, "buildings") if b["multiUnit"] is True)
    assert api.call("GET", f"/buildings/{building['id']}").json()["multiUnit"] == "Multi Family"


def test_headers_are_required_and_a_wrong_key_is_401(keyed_sandbox: Sandbox) -> None:
    with ContractSession(keyed_sandbox.info, key=False) as anonymous:
        missing = anonymous.call("GET", "/workorders")
        assert missing.status_code == 401 and missing.json()["errorCode"] == "UNAUTHORIZED"
        wrong_org = anonymous.call("GET", "/workorders", headers={
            "X-PropertyWare-Client-Id": keyed_sandbox.info["pw_client_id"],
            "x-propertyware-client-secret": keyed_sandbox.info["pw_client_secret"], "x-propertyware-system-id": "1"})
        assert wrong_org.status_code == 401
        other_case = anonymous.call("GET", "/workorders?limit=1", headers={
            "X-PROPERTYWARE-CLIENT-ID": keyed_sandbox.info["pw_client_id"],
            "X-Propertyware-Client-Secret": keyed_sandbox.info["pw_client_secret"],
            "X-Propertyware-System-ID": keyed_sandbox.info["pw_system_id"]})
        assert other_case.status_code == 200


def test_permission_sets_answer_403(keyed_sandbox: Sandbox) -> None:
    with ContractSession(keyed_sandbox.info, key=False) as session:
        def as_key(client_id: str, secret: str) -> dict[str, str]:
            return {"x-propertyware-client-id": client_id, "x-propertyware-client-secret": secret,
                    "x-propertyware-system-id": "42"}
        reader, places = as_key("reader", "reader-secret"), as_key("places", "places-secret")
        assert session.call("GET", "/workorders?limit=1", headers=reader).status_code == 200
        building = table(keyed_sandbox, "buildings")[0]["id"]
        refused = session.call("POST", "/workorders", json={"buildingID": building}, headers=reader)
        assert refused.status_code == 403 and "WORK ORDERS - Write" in refused.json()["userMessage"]
        assert session.call("GET", "/buildings?limit=1", headers=places).status_code == 200
        assert session.call("GET", "/workorders?limit=1", headers=places).status_code == 403
        assert session.call("GET", "/units?limit=1", headers=places).status_code == 403


def test_routing_is_exact(keyed_sandbox: Sandbox, api: ContractSession) -> None:
    base = keyed_sandbox.info["pw_rest_url"]
    headers = dict(api.headers)
    for url in (base + "/WorkOrders", base.replace("/v1", "") + "/workorders", base + "/workorders/",
                base + "/workorders?Limit=5", base + "/workorders?OFFSET=0"):
        answer = requests.get(url, headers=headers, timeout=10)
        assert answer.status_code == 404 and answer.content == b"", url
    assert requests.get(base + "/workorders?limit=5", headers=headers, timeout=10).status_code == 200


def test_writes_must_be_json(api: ContractSession, keyed_sandbox: Sandbox) -> None:
    building = table(keyed_sandbox, "buildings")[0]["id"]
    refused = api.call("POST", "/workorders", data=f"buildingID={building}",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 415
    assert api.call("POST", "/workorders", data="{", headers={"Content-Type": "application/json"}).status_code == 400


def test_offset_and_limit(api: ContractSession, keyed_sandbox: Sandbox) -> None:
    total = len(table(keyed_sandbox, "workOrders"))
    default = api.call("GET", "/workorders")
    assert len(default.json()) == min(100, total) and default.headers["X-Total-Count"] == str(total)
    capped = api.call("GET", "/workorders", params={"limit": 100_000})
    assert len(capped.json()) == min(500, total)
    second = api.call("GET", "/workorders", params={"offset": 3, "limit": 2}).json()
    assert [w["id"] for w in second] == [w["id"] for w in default.json()[3:5]]
    past = api.call("GET", "/workorders", params={"offset": total + 10})
    assert past.json() == [] and past.headers["X-Total-Count"] == str(total)
    for bad in ({"limit": 0}, {"offset": -1}, {"limit": "ten"}):
        assert api.call("GET", "/workorders", params=bad).status_code == 400, bad


def test_orderby_takes_each_endpoints_sortable_fields_only(api: ContractSession) -> None:
    newest = api.call("GET", "/workorders", params={"orderby": "lastModifiedDateTime desc,id", "limit": 500}).json()
    stamps = [w["lastModifiedDateTime"] for w in newest]
    assert stamps == sorted(stamps, reverse=True)
    by_name = api.call("GET", "/contacts", params={"orderby": "LASTNAME asc", "type": "TENANT", "limit": 500}).json()
    names = [c.get("lastName", "") for c in by_name]
    assert names == sorted(names)
    assert api.call("GET", "/vendors", params={"orderby": "vendortype desc"}).status_code == 200
    for path, orderby in (("/workorders", "description"), ("/contacts", "number"), ("/workorders", "id sideways")):
        refused = api.call("GET", path, params={"orderby": orderby})
        assert refused.status_code == 400 and refused.json()["errors"][0]["key"] == "orderby", (path, orderby)


def test_last_modified_window_is_inclusive_utc(api: ContractSession, keyed_sandbox: Sandbox) -> None:
    work_orders = sorted(table(keyed_sandbox, "workOrders"), key=lambda w: w["lastModifiedDateTime"])
    start, end = work_orders[5]["lastModifiedDateTime"], work_orders[20]["lastModifiedDateTime"]
    expected = {w["id"] for w in work_orders if start <= w["lastModifiedDateTime"] <= end}
    got = read_all(api, "/workorders", lastModifiedDateTimeStart=start, lastModifiedDateTimeEnd=end)
    assert {w["id"] for w in got} == expected
    offset_form = parse_ts(start).astimezone(timezone(timedelta(hours=-5))).isoformat()  # the same instant
    assert {w["id"] for w in read_all(api, "/workorders", lastModifiedDateTimeStart=offset_form,
                                      lastModifiedDateTimeEnd=end)} == expected
    for bad in ("yesterday", "2026-01-05", "2026-01-05T12:00:00"):
        assert api.call("GET", "/workorders", params={"lastModifiedDateTimeStart": bad}).status_code == 400, bad


def test_filters_and_custom_fields(api: ContractSession, keyed_sandbox: Sandbox) -> None:
    tenants = read_all(api, "/contacts", type="TENANT")
    assert tenants and all(c["type"] == "TENANT" for c in tenants)
    assert len(tenants) == sum(c["type"] == "TENANT" for c in table(keyed_sandbox, "contacts"))
    assert api.call("GET", "/contacts", params={"type": "tenant"}).status_code == 400
    building = table(keyed_sandbox, "buildings")[0]["id"]
    on_building = read_all(api, "/workorders", buildingID=building)
    assert {w["id"] for w in on_building} == {w["id"] for w in table(keyed_sandbox, "workOrders")
                                              if w["buildingID"] == building}
    assert api.call("GET", "/workorders", params={"priority": "URGENT"}).status_code == 400
    unmodelled = api.call("GET", "/buildings", params={"vacant": "true"})
    assert unmodelled.status_code == 400 and "does not model" in unmodelled.json()["userMessage"]

    work_order = table(keyed_sandbox, "workOrders")[0]["id"]
    custom = [{"definitionID": 1, "fieldName": "Gate code", "dataType": "TEXT", "value": "1234"}]
    keyed_sandbox.state.patch("propertyware", "workOrders", work_order, {"customFields": custom})
    listed = api.call("GET", "/workorders", params={"limit": 500}).json()
    assert all("customFields" not in w for w in listed)
    with_custom = api.call("GET", "/workorders", params={"limit": 500, "includeCustomFields": "true"}).json()
    assert next(w for w in with_custom if w["id"] == work_order)["customFields"] == custom
    assert api.call("GET", f"/workorders/{work_order}").json()["customFields"] == custom
    assert "customFields" not in api.call("GET", f"/workorders/{work_order}?includeCustomFields=false").json()


def test_create_needs_a_building_has_no_status_and_bumps_the_clock(api: ContractSession,
                                                                   keyed_sandbox: Sandbox) -> None:
    building = table(keyed_sandbox, "buildings")[0]
    unit = next(u for u in table(keyed_sandbox, "units") if u["buildingID"] == building["id"])
    before = keyed_sandbox.state.now()
    created = api.call("POST", "/workorders", json={"buildingID": building["id"], "unitIDs": [unit["id"]],
                                                   "priority": "HIGH", "category": "Plumbing"})
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["status"] == "Open" and record["unitID"] == unit["id"]
    assert record["portfolioID"] == building["portfolioID"]
    assert record["lastModifiedDateTime"] >= before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.call("GET", f"/workorders/{record['id']}").json()["number"] == record["number"]
    refusals = (({"priority": "HIGH"}, "buildingID"), ({"buildingID": building["id"], "status": "Open"}, "status"),
                ({"buildingID": -5}, "buildingID"), ({"buildingID": building["id"], "priority": "URGENT"}, "priority"))
    for body, key in refusals:
        refused = api.call("POST", "/workorders", json=body)
        assert refused.status_code == 400 and refused.json()["errors"][0]["key"] == key, body


def test_close_needs_a_time_card_with_a_vendor(api: ContractSession, keyed_sandbox: Sandbox) -> None:
    work_order = next(w for w in table(keyed_sandbox, "workOrders") if w["status"] == "Open")
    vendor = table(keyed_sandbox, "vendors")[0]["id"]
    path = f"/workorders/closeworkorder/{work_order['id']}"
    assert api.call("PUT", path, json={"comments": "done"}).status_code == 400
    assert api.call("PUT", path, json={"timeCardEntry": [{"hours": 1.0}]}).status_code == 400
    assert api.call("PUT", path, json={"timeCardEntry": [{"vendorID": 999_999_999}]}).status_code == 400
    closed = api.call("PUT", path, json={"comments": "Fixed", "completedDate": "2026-01-05",
                                         "timeCardEntry": [{"vendorID": vendor, "hours": 1.5}]})
    assert closed.status_code == 200, closed.text
    assert closed.json()["body"]["status"] == "Completed"
    stored = keyed_sandbox.state.get("propertyware", "workOrders", work_order["id"])
    assert stored["status"] == "Completed" and stored["closingComments"] == "Fixed"
    assert stored["lastModifiedDateTime"] > work_order["lastModifiedDateTime"]
    assert api.call("PUT", "/workorders/closeworkorder/1", json={"timeCardEntry": [{"vendorID": vendor}]}
                    ).status_code == 404
    assert api.call("GET", "/workorders/123456789").status_code == 404


def test_beta_writes_can_be_refused() -> None:
    with Sandbox(seed=3, scale="small", pw_rest_options={"beta_writes": False}) as running, \
            ContractSession(running.info) as session:
        work_order = running.state.snapshot()["propertyware"]["workOrders"][0]["id"]
        vendor = running.state.snapshot()["propertyware"]["vendors"][0]["id"]
        refused = session.call("PUT", f"/workorders/closeworkorder/{work_order}",
                               json={"timeCardEntry": [{"vendorID": vendor}]})
        assert refused.status_code == 403 and "BETA" in refused.json()["userMessage"]


def test_rate_limit_is_429_without_retry_after() -> None:
    with Sandbox(seed=3, scale="small", pw_rest_options={"rate_limit_per_second": 3}) as running, \
            ContractSession(running.info) as session:
        statuses = [session.call("GET", "/portfolios") for _ in range(8)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited, [r.status_code for r in statuses]
        assert all("Retry-After" not in r.headers and r.json()["errorCode"] == "TOO_MANY_REQUESTS" for r in limited)


def test_health(api: ContractSession) -> None:
    assert api.call("GET", "/health").json()["statusCode"] == "200"


def test_faults_and_the_request_log(api: ContractSession, keyed_sandbox: Sandbox) -> None:
    keyed_sandbox.state.faults.add({"server": "pw", "operation": "GET /workorders", "kind": "error"})
    assert api.call("GET", "/workorders").status_code == 500
    assert api.call("GET", "/portfolios").status_code == 200
    keyed_sandbox.state.faults.clear()
    keyed_sandbox.state.faults.add({"server": "pw", "operation": "GET /workorders/{workOrderId}", "kind": "rate_limit"})
    work_order = table(keyed_sandbox, "workOrders")[0]["id"]
    assert api.call("GET", f"/workorders/{work_order}").status_code == 429
    keyed_sandbox.state.faults.clear()
    keyed_sandbox.state.faults.add({"server": "pw", "operation": "POST /workorders", "kind": "commit_then_drop"})
    count = len(table(keyed_sandbox, "workOrders"))
    with pytest.raises(requests.ConnectionError):
        api.call("POST", "/workorders", json={"buildingID": table(keyed_sandbox, "buildings")[0]["id"]})
    assert len(table(keyed_sandbox, "workOrders")) == count + 1
    keyed_sandbox.state.faults.clear()
    keyed_sandbox.state.faults.add({"server": "pw", "operation": "*", "kind": "reset"})
    with pytest.raises(requests.ConnectionError):
        api.call("GET", "/vendors")
    keyed_sandbox.state.faults.clear()
    log = [(e["method"], e["operation"], e["status"]) for e in keyed_sandbox.state.request_log() if e["server"] == "pw"]
    assert log[-5:] == [("GET", "GET /workorders", 500), ("GET", "GET /portfolios", 200),
                        ("GET", "GET /workorders/{workOrderId}", 429), ("POST", "POST /workorders", 0),
                        ("GET", "GET /vendors", 0)]


def test_admin_changes_show_through_rest(api: ContractSession, keyed_sandbox: Sandbox) -> None:
    work_order = table(keyed_sandbox, "workOrders")[0]
    requests.patch(f"{keyed_sandbox.info['admin_url']}/propertyware/workOrders/{work_order['id']}",
                   json={"status": "On Hold"}, timeout=10).raise_for_status()
    served = api.call("GET", f"/workorders/{work_order['id']}").json()
    assert served["status"] == "On Hold" and served["lastModifiedDateTime"] > work_order["lastModifiedDateTime"]
    changed = read_all(api, "/workorders", lastModifiedDateTimeStart=served["lastModifiedDateTime"])
    assert [w["id"] for w in changed] == [work_order["id"]]
