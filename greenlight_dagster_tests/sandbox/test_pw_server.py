"""The PWServices SOAP sandbox (legacy rpc/encoded, Axis answers), driven over real HTTP with raw envelopes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from lxml import etree

from greenlight_dagster.clients.pw_legacy import signatures
from greenlight_dagster.clients.pw_wire import SOAP_ENV_NS, Decoder, request
from greenlight_dagster.clients.pw_wire import envelope as pw_envelope
from greenlight_dagster.sandbox.httpbase import SandboxHTTPServer
from greenlight_dagster.sandbox.pw_server import SERVICE_PATH, create_pw_server
from greenlight_dagster.sandbox.state import SandboxState

USER, PASSWORD = "pw-user", "s3cret-pw"


def _work_order(i: int, modified: str, **extra: Any) -> dict[str, Any]:
    return {"id": 9000 + i, "number": 1000 + i, "portfolioID": 1, "buildingID": 10 + i % 2, "unitID": 100,
            "status": "Open", "description": f"job {i}", "createdDateTime": "2026-01-01T00:00:00Z",
            "lastModifiedDateTime": modified, **extra}


FIXTURE: dict[str, Any] = {
    "version": 1,
    "clock": "2026-01-05T12:00:00Z",
    "propertyware": {
        "portfolios": [{"id": 1, "name": "Oak Holdings", "abbreviation": "OAK", "active": True,
                        "lastModifiedDateTime": "2026-01-02T10:00:00Z"},
                       {"id": 2, "name": "Elm Trust", "abbreviation": "ELM", "active": False,
                        "lastModifiedDateTime": "2026-01-02T11:00:00Z"}],
        "buildings": [{"id": 10, "portfolioID": 1, "name": "12 Oak St", "abbreviation": "12OAK", "multiUnit": True,
                       "countUnit": 4, "category": "RESIDENTIAL", "propertyType": "Du/Fourplex",
                       "address": {"address": "12 Oak St", "city": "Austin", "stateRegion": "TX",
                                   "postalCode": "78701"},
                       "lastModifiedDateTime": "2026-01-02T10:00:00Z"},
                      {"id": 11, "portfolioID": 2, "name": "3 Elm", "multiUnit": "Single Family", "targetRent": 1200,
                       "areaUnits": "acres?", "amenities": ["pool"], "leaseID": None,
                       "lastModifiedDateTime": "2026-01-02T10:30:00Z"}],
        "units": [{"id": 100, "buildingID": 10, "portfolioID": 1, "name": "Unit A", "abbreviation": "12OAK-A",
                   "lastModifiedDateTime": "2026-01-02T10:00:00Z"},
                  {"id": 101, "buildingID": 10, "portfolioID": 1, "name": "Unit B", "numberOfBathrooms": 1.5,
                   "lastModifiedDateTime": "2026-01-02T10:00:01Z"}],
        "contacts": [{"id": 500, "type": "TENANT", "firstName": "Ana", "lastName": "Ruiz", "email": "ana@example.com",
                      "lastModifiedDateTime": "2026-01-02T10:00:00Z"},
                     {"id": 501, "type": "OWNER", "firstName": "Bo", "lastName": "Oak",
                      "lastModifiedDateTime": "2026-01-02T10:00:00Z"},
                     {"id": 502, "type": "TENANT", "firstName": "Cy", "lastName": "Ruiz", "mobilePhone": "555-0102",
                      "lastModifiedDateTime": "2026-01-03T10:00:00Z"}],
        "leases": [{"id": 300, "unitID": 100, "buildingID": 10, "portfolioID": 1, "status": "Active",
                    "startDate": "2025-06-01", "endDate": "2026-05-31", "tenantIDs": [500, 502],
                    "primaryContactID": 500, "baseRent": 1450.0, "lastModifiedDateTime": "2026-01-02T10:00:00Z"}],
        "vendors": [{"id": 700, "name": "FastFix", "companyName": "FastFix LLC", "active": True, "type": "Plumber",
                     "lastModifiedDateTime": "2026-01-02T10:00:00Z"}],
        "workOrders": [
            _work_order(1, "2026-01-03T09:00:00Z", priority="HIGH", unitIDs=[100, 101],
                        customFields=[{"definitionID": 3, "fieldName": "Gate code", "dataType": "TEXT",
                                       "value": "1234"}],
                        assignedVendors=[{"id": 700, "name": "FastFix"}]),
            _work_order(2, "2026-01-03T10:00:00Z", description="line1\r\nline2 \x00 nul"),
            _work_order(3, "2026-01-03T11:00:00Z", costEstimate=None),
            _work_order(4, "2026-01-03T12:00:00Z"),
            _work_order(5, "2026-01-03T13:00:00Z"),
        ],
    },
}


@pytest.fixture
def state() -> SandboxState:
    return SandboxState(copy.deepcopy(FIXTURE))


def start_server(state: SandboxState, **options: Any) -> SandboxHTTPServer:
    server = create_pw_server(state, username=USER, password=PASSWORD, **options)
    server.start()
    return server


@pytest.fixture
def server(state: SandboxState) -> Iterator[SandboxHTTPServer]:
    srv = start_server(state, page_size=2)
    yield srv
    srv.stop()


def envelope(operation: str, inner: str = "", header: str = "") -> bytes:
    """A hand-written rpc/encoded request (for what the client would never send)."""
    return pw_envelope(f"<ns1:{operation}>{inner}</ns1:{operation}>", header)


def post(server: SandboxHTTPServer, body: bytes, auth: tuple[str, str] | None = (USER, PASSWORD)) -> requests.Response:
    return requests.post(server.base_url + SERVICE_PATH, data=body, auth=auth, timeout=5,
                         headers={"Content-Type": "text/xml; charset=utf-8", "Connection": "close"})


def call(server: SandboxHTTPServer, operation: str, **arguments: Any) -> Any:
    """POST an operation (built from the signatures) and return its decoded return value (asserting HTTP 200)."""
    return call_url(server.base_url + SERVICE_PATH, (USER, PASSWORD), operation, **arguments)


def call_url(url: str, auth: tuple[str, str], operation: str, **arguments: Any) -> Any:
    response = requests.post(url, data=request(operation, arguments), auth=auth, timeout=10,
                             headers={"Content-Type": "text/xml; charset=utf-8", "Connection": "close"})
    assert response.status_code == 200, response.text
    return decode_return(operation, response.content)


def decode_return(operation: str, content: bytes) -> Any:
    """An answer's return value, decoded strictly as the signatures declare it."""
    body = etree.fromstring(content).find(f"{{{SOAP_ENV_NS}}}Body")
    returned = body[0].find(f"{operation}Return")
    returns = signatures().operation(operation).returns
    return None if returned is None or returns is None else Decoder(body, strict=True).value(returned, returns, "r")


def fault(response: requests.Response) -> tuple[str, str]:
    assert response.status_code == 500, response.text
    node = etree.fromstring(response.content).find(f"{{{SOAP_ENV_NS}}}Body/{{{SOAP_ENV_NS}}}Fault")
    return node.findtext("faultcode"), node.findtext("faultstring")


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [r["ID"] for r in records]


def test_pages_are_one_based_ordered_by_id_and_sized_by_the_server(server: SandboxHTTPServer) -> None:
    pages = [call(server, "getWorkOrders", criteria={"pageNumber": n}) for n in (1, 2, 3, 4)]
    assert [ids(p) for p in pages] == [[9001, 9002], [9003, 9004], [9005], []]
    assert ids(call(server, "getWorkOrders", criteria={})) == [9001, 9002]  # no pageNumber: the first page
    newest = call(server, "getWorkOrders", criteria={"orderByNewestFirst": True})
    assert ids(newest) == [9005, 9004]


def test_last_modified_window_is_inclusive_at_both_ends(server: SandboxHTTPServer) -> None:
    window = {"lastModifiedOnOrAfter": "2026-01-03T10:00:00Z", "lastModifiedOnOrBefore": "2026-01-03T12:00:00Z"}
    pages = [call(server, "getWorkOrders", criteria={**window, "pageNumber": n}) for n in (1, 2)]
    assert ids(pages[0] + pages[1]) == [9002, 9003, 9004]
    strict = {"lastModifiedAfter": "2026-01-03T10:00:00Z", "lastModifiedBefore": "2026-01-03T12:00:00Z"}
    assert ids(call(server, "getWorkOrders", criteria=strict)) == [9003]
    offset = {"lastModifiedOnOrAfter": "2026-01-03T07:00:00-05:00"}  # = 12:00Z
    assert ids(call(server, "getWorkOrders", criteria=offset)) == [9004, 9005]


def test_entity_filters_and_criteria_less_operations(server: SandboxHTTPServer) -> None:
    assert ids(call(server, "getContacts", criteria={"email": "ana@example.com"})) == [500]
    assert ids(call(server, "getUnits", criteria={"buildingId": 10})) == [100, 101]
    assert ids(call(server, "getLeases", criteria={"tenantId": 502})) == [300]
    both = call(server, "getWorkOrders", criteria={"buildingId": 11, "pageNumber": 1}) + call(
        server, "getWorkOrders", criteria={"buildingId": 11, "pageNumber": 2})
    assert ids(both) == [9001, 9003, 9005]
    assert ids(call(server, "getWorkOrders", criteria={"ids": [9004, 9002]})) == [9002, 9004]
    assert ids(call(server, "getAllPortfolios")) == [1, 2]  # no criteria: everything, unpaged
    assert ids(call(server, "getVendors")) == [700]
    lease = call(server, "getLeases", criteria={"ids": [300]})[0]
    assert [t["ID"] for t in lease["tenants"]] == [500, 502] and lease["primaryContact"]["ID"] == 500
    assert lease["leaseStatus"] == "Active" and lease["startDate"] == "06/01/2025" and "baseRent" not in lease


@pytest.mark.parametrize("auth", [None, (USER, "wrong"), ("nobody", PASSWORD)])
def test_basic_auth_failures_are_authentication_faults(server: SandboxHTTPServer, auth: Any) -> None:
    code, message = fault(post(server, request("echoString", {"arg": "x"}), auth=auth))
    assert code == "soapenv:Client.Authentication"
    assert PASSWORD not in message


def test_header_auth_mode(state: SandboxState) -> None:
    srv = start_server(state, auth_mode="header")
    try:
        good = f"<ns1:AuthHeader><username>{USER}</username><password>{PASSWORD}</password>" \
               "<orgId>42</orgId></ns1:AuthHeader>"
        response = post(srv, request("echoString", {"arg": "hi"}, header=good), auth=None)
        assert response.status_code == 200 and b"hi" in response.content
        bad = good.replace(PASSWORD, "nope")
        assert fault(post(srv, request("echoString", {"arg": "hi"}, header=bad), auth=None))[0] \
            == "soapenv:Client.Authentication"
        # Basic credentials do not count in header mode.
        assert fault(post(srv, request("echoString", {"arg": "hi"})))[0] == "soapenv:Client.Authentication"
    finally:
        srv.stop()


_INT = 'xsi:type="xsd:int"'


@pytest.mark.parametrize(("body", "expected"), [
    (envelope("getWorkOrders", f"<criteria><pageNumber {_INT}>-1</pageNumber></criteria>"),
     "pageNumber must be 1 or more"),
    (envelope("getWorkOrders", f"<criteria><pageNumber {_INT}>abc</pageNumber></criteria>"),
     "is not a valid xsd:int"),
    (envelope("getWorkOrders", "<criteria><lastModifiedOnOrAfter>yesterday</lastModifiedOnOrAfter></criteria>"),
     "ISO-8601"),
    (envelope("getWorkOrders", "<criteria><colour>red</colour></criteria>"), "has no field 'colour'"),
    (envelope("getBuildings", "<criteria><ownerId>1</ownerId></criteria>"), "does not filter by ownerId"),
    (envelope("getWorkOrders", "<pageSize>5</pageSize>"), "has no parameter 'pageSize'"),
    (envelope("deleteEverything"), "unknown operation"),
    (envelope("getUsers"), "does not implement"),
    (envelope("updateWorkOrder", "<workOrder><ID>1</ID></workOrder>"), "work order 1 not found"),
    (envelope("createWorkOrder", "<workOrder><description>x</description></workOrder>"), "existing building"),
    (envelope("attachNoteToWorkOrder", "<note><body> </body></note><workOrder><ID>9001</ID></workOrder>"),
     "empty"),
    (envelope("closeWorkOrder", "<workOrderID>abc</workOrderID>"), "must be a work order id"),
    (envelope("getWorkOrder", '<criteria href="#nowhere"/>'), "names no multiRef"),
    (b"<not-xml", "not well-formed"),
    (b"<a/>", "expected a SOAP 1.1 Envelope"),
])
def test_bad_input_is_a_client_fault(server: SandboxHTTPServer, body: bytes, expected: str) -> None:
    code, message = fault(post(server, body))
    assert code == "soapenv:Client"
    assert expected in message


def test_dtd_and_external_entities_are_refused(server: SandboxHTTPServer, tmp_path: Any) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file://{secret}">]>'.encode()
           + envelope("echoString", "<arg>&x;</arg>").split(b"?>", 1)[1])
    response = post(server, xxe)
    code, message = fault(response)
    assert code == "soapenv:Client" and "DTD" in message
    assert b"TOP-SECRET" not in response.content


def test_mutations_bump_last_modified_and_land_in_state(server: SandboxHTTPServer, state: SandboxState) -> None:
    updated = call(server, "updateWorkOrder", workOrder={"ID": 9001, "status": "In Progress"})
    assert updated["status"] == "In Progress" and updated["priority"] == "HIGH"  # partial update keeps the rest
    first = state.get("propertyware", "workOrders", 9001)["lastModifiedDateTime"]
    assert first == "2026-01-05T12:00:00Z"
    note = call(server, "attachNoteToWorkOrder", note={"body": "Tech on the way"}, workOrder={"ID": 9001})
    assert note["body"] == "Tech on the way"
    second = copy.deepcopy(state.get("propertyware", "workOrders", 9001))
    assert second["lastModifiedDateTime"] > first
    assert second["notes"][0]["note"] == "Tech on the way" and second["notes"][0]["createdBy"] == USER
    assert call(server, "closeWorkOrder", workOrderID="9001", category="Plumbing", closingComments="Fixed",
                completedDate="01/05/2026") is True
    closed = state.get("propertyware", "workOrders", 9001)
    assert closed["status"] == "Completed" and closed["closingComments"] == "Fixed"
    assert closed["completedDate"] == "2026-01-05"  # the legacy date string lands in the fixture's ISO form
    assert closed["lastModifiedDateTime"] > second["lastModifiedDateTime"]
    created = call(server, "createWorkOrder", workOrder={"building": {"ID": 10}, "unitIDs": [101],
                                                         "description": "New"})
    assert created["ID"] == 9006 and created["number"] == 1006 and created["status"] == "Open"
    assert state.get("propertyware", "workOrders", 9006)["unitID"] == 101
    assert call(server, "getWorkOrder", criteria={"ids": [424242]}) is None
    assert call(server, "getWorkOrder", criteria={"ids": [9006]})["description"] == "New"


def test_injected_faults(server: SandboxHTTPServer, state: SandboxState) -> None:
    echo = request("echoString", {"arg": "x"})
    state.faults.add({"server": "pw", "operation": "echoString", "kind": "error"})
    assert fault(post(server, echo)) == ("soapenv:Server", "echoString: injected server error")
    state.faults.clear()
    state.faults.add({"server": "pw", "operation": "echoString", "kind": "rate_limit"})
    limited = post(server, echo)
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    state.faults.clear()
    state.faults.add({"server": "pw", "operation": "*", "kind": "reset"})
    with pytest.raises(requests.ConnectionError):
        post(server, echo)
    state.faults.clear()
    state.faults.add({"server": "pw", "operation": "updateWorkOrder", "kind": "commit_then_drop"})
    with pytest.raises(requests.ConnectionError):
        post(server, request("updateWorkOrder", {"workOrder": {"ID": 9002, "status": "Done"}}))
    assert state.get("propertyware", "workOrders", 9002)["status"] == "Done"  # committed before the drop
    log = [(r["operation"], r["status"]) for r in state.request_log()]
    assert log == [("echoString", 500), ("echoString", 429), ("echoString", 0), ("updateWorkOrder", 0)]


def test_answers_are_dated_by_the_sandbox_clock(server: SandboxHTTPServer, state: SandboxState) -> None:
    response = post(server, request("echoString", {"arg": "x"}))
    assert response.headers["Date"] == "Mon, 05 Jan 2026 12:00:00 GMT"
