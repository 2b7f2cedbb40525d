"""The PWServices SOAP sandbox, driven over real HTTP with raw envelopes and with zeep."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import zeep
from lxml import etree

from greenlight_dagster.clients.pw_wire import NS, SOAP_ENV_NS
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
    return (f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:pw="{NS}">'
            f"<soapenv:Header>{header}</soapenv:Header>"
            f"<soapenv:Body><pw:{operation}>{inner}</pw:{operation}></soapenv:Body></soapenv:Envelope>").encode()


def post(server: SandboxHTTPServer, body: bytes, auth: tuple[str, str] | None = (USER, PASSWORD)) -> requests.Response:
    return requests.post(server.base_url + SERVICE_PATH, data=body, auth=auth, timeout=5,
                         headers={"Content-Type": "text/xml; charset=utf-8", "Connection": "close"})


def call(server: SandboxHTTPServer, operation: str, inner: str = "", **kwargs: Any) -> etree._Element:
    """POST an operation and return the ``<operation>Response`` element (asserting HTTP 200)."""
    response = post(server, envelope(operation, inner), **kwargs)
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content).find(f"{{{SOAP_ENV_NS}}}Body")[0]


def fault(response: requests.Response) -> tuple[str, str]:
    assert response.status_code == 500, response.text
    node = etree.fromstring(response.content).find(f"{{{SOAP_ENV_NS}}}Body/{{{SOAP_ENV_NS}}}Fault")
    return node.findtext("faultcode"), node.findtext("faultstring")


def ids(response: etree._Element, item: str) -> list[int]:
    return [int(e.findtext(f"{{{NS}}}ID")) for e in response.findall(f"{{{NS}}}{item}")]


def criteria(**values: Any) -> str:
    return "<pw:criteria>" + "".join(f"<pw:{k}>{v}</pw:{k}>" for k, v in values.items()) + "</pw:criteria>"


def zeep_client(server: SandboxHTTPServer) -> zeep.Client:
    session = requests.Session()
    session.auth = (USER, PASSWORD)
    return zeep.Client(server.base_url + SERVICE_PATH + "?wsdl", transport=zeep.Transport(session=session))


def test_wsdl_is_consumed_by_zeep_without_warnings(server: SandboxHTTPServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = zeep_client(server)
    operations = set(client.service._binding._operations)
    assert operations == {"getAllPortfolios", "getPortfolioList", "getBuildings", "getUnits", "getLeases",
                          "getContacts", "getVendors", "getWorkOrders", "getWorkOrder", "updateWorkOrder",
                          "closeWorkOrder", "attachNoteToWorkOrder", "createWorkOrder", "echoString"}
    assert client.service._binding_options["address"] == server.base_url + SERVICE_PATH
    assert client.service.echoString(arg="ping") == "ping"
    result = client.service.getLeases(criteria={"ids": [300]})
    assert [t.ID for t in result.lease[0].tenants] == [500, 502]
    assert [t.primary for t in result.lease[0].tenants] == [True, False]


def test_pages_are_one_based_and_ordered_by_id(server: SandboxHTTPServer) -> None:
    pages = [call(server, "getWorkOrders", criteria(pageNumber=n)) for n in (1, 2, 3, 4)]
    assert [ids(p, "workOrder") for p in pages] == [[9001, 9002], [9003, 9004], [9005], []]
    assert {p.findtext(f"{{{NS}}}totalCount") for p in pages} == {"5"}
    bigger = call(server, "getWorkOrders", criteria(pageSize=4))
    assert ids(bigger, "workOrder") == [9001, 9002, 9003, 9004]
    newest = call(server, "getWorkOrders", criteria(orderByNewestFirst="true", pageSize=10))
    assert ids(newest, "workOrder") == [9005, 9004, 9003, 9002, 9001]


def test_last_modified_window_is_inclusive_at_both_ends(server: SandboxHTTPServer) -> None:
    window = criteria(lastModifiedOnOrAfter="2026-01-03T10:00:00Z", lastModifiedOnOrBefore="2026-01-03T12:00:00Z",
                      pageSize=10)
    assert ids(call(server, "getWorkOrders", window), "workOrder") == [9002, 9003, 9004]
    offset = criteria(lastModifiedOnOrAfter="2026-01-03T07:00:00-05:00", pageSize=10)  # = 12:00Z
    assert ids(call(server, "getWorkOrders", offset), "workOrder") == [9004, 9005]


def test_entity_filters(server: SandboxHTTPServer) -> None:
    assert ids(call(server, "getContacts", criteria(contactType="TENANT")), "contact") == [500, 502]
    assert ids(call(server, "getBuildings", criteria(portfolioId=2)), "building") == [11]
    assert ids(call(server, "getWorkOrders", criteria(buildingId=11, pageSize=9)), "workOrder") == [9001, 9003, 9005]
    ordered = "<pw:criteria><pw:ids>9002</pw:ids><pw:ids>9004</pw:ids></pw:criteria>"
    assert ids(call(server, "getWorkOrders", ordered), "workOrder") == [9002, 9004]
    assert ids(call(server, "getAllPortfolios"), "portfolio") == [1, 2]
    assert ids(call(server, "getPortfolioList"), "portfolio") == [1, 2]


@pytest.mark.parametrize("auth", [None, (USER, "wrong"), ("nobody", PASSWORD)])
def test_basic_auth_failures_are_authentication_faults(server: SandboxHTTPServer, auth: Any) -> None:
    code, message = fault(post(server, envelope("echoString", "<pw:arg>x</pw:arg>"), auth=auth))
    assert code == "soapenv:Client.Authentication"
    assert PASSWORD not in message


def test_header_auth_mode(state: SandboxState) -> None:
    srv = start_server(state, auth_mode="header")
    try:
        good = f"<pw:AuthHeader><pw:username>{USER}</pw:username><pw:password>{PASSWORD}</pw:password>" \
               "<pw:orgId>42</pw:orgId></pw:AuthHeader>"
        response = post(srv, envelope("echoString", "<pw:arg>hi</pw:arg>", header=good), auth=None)
        assert response.status_code == 200 and b"hi" in response.content
        bad = good.replace(PASSWORD, "nope")
        assert fault(post(srv, envelope("echoString", "<pw:arg>hi</pw:arg>", header=bad), auth=None))[0] \
            == "soapenv:Client.Authentication"
        # Basic credentials do not count in header mode.
        assert fault(post(srv, envelope("echoString", "<pw:arg>hi</pw:arg>")))[0] == "soapenv:Client.Authentication"
    finally:
        srv.stop()


@pytest.mark.parametrize(("body", "expected"), [
    (envelope("getWorkOrders", criteria(pageNumber=0)), "pageNumber must be 1 or more"),
    (envelope("getWorkOrders", criteria(pageSize=5000)), "pageSize must be within"),
    (envelope("getWorkOrders", criteria(pageSize="abc")), "is not a valid xsd:int"),
    (envelope("getWorkOrders", criteria(lastModifiedOnOrAfter="yesterday")), "ISO-8601"),
    (envelope("getWorkOrders", criteria(colour="red")), "unexpected element"),
    (envelope("getWorkOrder"), "missing required element(s) workOrderID"),
    (envelope("deleteEverything"), "unknown operation"),
    (envelope("updateWorkOrder", "<pw:workOrder><pw:ID>1</pw:ID></pw:workOrder>"), "work order 1 not found"),
    (envelope("createWorkOrder", "<pw:workOrder><pw:description>x</pw:description></pw:workOrder>"), "buildingID"),
    (envelope("attachNoteToWorkOrder", "<pw:workOrderID>9001</pw:workOrderID><pw:note> </pw:note>"), "empty"),
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
           + envelope("echoString", "<pw:arg>&x;</pw:arg>"))
    response = post(server, xxe)
    code, message = fault(response)
    assert code == "soapenv:Client" and "DTD" in message
    assert b"TOP-SECRET" not in response.content


def test_mutations_bump_last_modified_and_land_in_state(server: SandboxHTTPServer, state: SandboxState) -> None:
    client = zeep_client(server)
    updated = client.service.updateWorkOrder(workOrder={"ID": 9001, "status": "In Progress"})
    assert updated.status == "In Progress" and updated.priority == "HIGH"  # partial update keeps the rest
    first = state.get("propertyware", "workOrders", 9001)["lastModifiedDateTime"]
    assert first == "2026-01-05T12:00:00Z"
    client.service.attachNoteToWorkOrder(workOrderID=9001, note="Tech on the way")
    second = copy.deepcopy(state.get("propertyware", "workOrders", 9001))
    assert second["lastModifiedDateTime"] > first
    assert second["notes"][0]["note"] == "Tech on the way" and second["notes"][0]["createdBy"] == USER
    closed = client.service.closeWorkOrder(workOrderID=9001, category="Plumbing", closingComments="Fixed",
                                           completedDate="2026-01-05")
    assert closed.status == "Completed" and closed.closingComments == "Fixed"
    assert state.get("propertyware", "workOrders", 9001)["lastModifiedDateTime"] > second["lastModifiedDateTime"]
    created = client.service.createWorkOrder(workOrder={"buildingID": 10, "unitID": 101, "description": "New"})
    assert created.ID == 9006 and created.number == 1006 and created.status == "Open"
    assert created.createdDateTime == created.lastModifiedDateTime
    assert state.get("propertyware", "workOrders", 9006)["description"] == "New"
    assert client.service.getWorkOrder(workOrderID=424242) is None


def test_injected_faults(server: SandboxHTTPServer, state: SandboxState) -> None:
    echo = envelope("echoString", "<pw:arg>x</pw:arg>")
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
        post(server, envelope("updateWorkOrder", "<pw:workOrder><pw:ID>9002</pw:ID><pw:status>Done</pw:status>"
                                                 "</pw:workOrder>"))
    assert state.get("propertyware", "workOrders", 9002)["status"] == "Done"  # committed before the drop
    log = [(r["operation"], r["status"]) for r in state.request_log()]
    assert log == [("echoString", 500), ("echoString", 429), ("echoString", 0), ("updateWorkOrder", 0)]
