"""The legacy PWServices as the vendor ships it: the WSDL against the signatures file, Axis answers
(multiRef/href) through the client, and answers a misbehaving server sends (issue 16 items 7, 10)."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import requests
from lxml import etree
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.pw_entities import LEGACY_FIELDS, PW_ENTITIES
from greenlight_dagster.clients.pw_legacy import LEGACY_KINDS, TypeRef, signatures
from greenlight_dagster.clients.pw_wire import NS, SOAP_ENV_NS, Writer, envelope, number_refs
from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.resilience import PermanentError, RetryPolicy
from greenlight_dagster.sandbox.pw_server import SERVICE_PATH, create_pw_server
from greenlight_dagster.sandbox.pw_wsdl import WSDL_NS
from greenlight_dagster.sandbox.state import SandboxState
from greenlight_dagster_tests.http_stubs import answer_pw, pw_stub
from greenlight_dagster_tests.sandbox.test_pw_server import FIXTURE, PASSWORD, USER

XSD = "http://www.w3.org/2001/XMLSchema"
_SIGNATURES = json.loads(resources.files("greenlight_dagster.contracts").joinpath(
    "propertyware-soap-signatures.json").read_text(encoding="utf-8"))


@pytest.fixture
def soap_server() -> Iterator[tuple[SandboxState, str]]:
    state = SandboxState(copy.deepcopy(FIXTURE))
    server = create_pw_server(state, username=USER, password=PASSWORD, page_size=2)
    server.start()
    yield state, server.base_url + SERVICE_PATH + "?wsdl"
    server.stop()


def _client(wsdl_url: str, **options: Any) -> PropertyWareClient:
    options.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01, rng=random.Random(0)))
    return PropertyWareClient(wsdl_url, USER, PASSWORD, timeout=5, **options)


def test_served_wsdl_has_every_operation_and_struct_of_the_signatures_file(
        soap_server: tuple[SandboxState, str]) -> None:
    root = etree.fromstring(requests.get(soap_server[1], timeout=5).content)
    port_ops = {op.get("name"): op for op in root.iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation")}
    assert set(port_ops) == set(_SIGNATURES["operations"])
    messages = {m.get("name"): [p.get("name") for p in m] for m in root.iterfind(f"{{{WSDL_NS}}}message")}
    for name, op in _SIGNATURES["operations"].items():
        assert messages[f"{name}Request"] == [p["name"] for p in op["params"]], name
        assert messages[f"{name}Response"] == ([] if op["returns"] == "void" else [f"{name}Return"]), name
    binding = root.find(f"{{{WSDL_NS}}}binding")
    assert binding is not None and binding[0].get("style") == "rpc"
    assert {b.get("use") for b in binding.iter("{http://schemas.xmlsoap.org/wsdl/soap/}body")} == {"encoded"}
    types = {t.get("name"): t for t in root.iter(f"{{{XSD}}}complexType")}
    for name, struct in _SIGNATURES["structs"].items():
        declared = types[name]
        extension = declared.find(f".//{{{XSD}}}extension")
        assert (extension.get("base").split(":")[1] if extension is not None else None) == struct["extends"], name
        assert [e.get("name") for e in declared.iter(f"{{{XSD}}}element")] == [f["name"] for f in struct["fields"]]
    assert types["WorkOrder"].find(f".//{{{XSD}}}element[@name='unitIDs']").get("type") == "impl:ArrayOf_xsd_long"
    assert "soapenc:Array" in etree.tostring(types["ArrayOf_xsd_long"]).decode()


def test_mapping_names_only_fields_and_kinds_that_exist() -> None:
    sig = signatures()
    for struct, rules in LEGACY_FIELDS.items():
        for rule in rules:
            assert rule.kind in LEGACY_KINDS
            assert sig.field(struct, rule.legacy) is not None, (struct, rule)
    for entity in PW_ENTITIES:
        assert sig.operation(entity.soap_operation).returns is not None
        assert sig.is_struct(entity.soap_struct)


def test_answers_are_axis_multirefs_and_the_client_maps_them_back(soap_server: tuple[SandboxState, str]) -> None:
    _state, wsdl_url = soap_server
    raw = requests.post(wsdl_url.removesuffix("?wsdl"), auth=(USER, PASSWORD), timeout=5, data=envelope(
        '<ns1:getWorkOrders><criteria xsi:type="tns1:WorkOrderSearchCriteria">'
        '<pageNumber xsi:type="xsd:int">1</pageNumber></criteria></ns1:getWorkOrders>')).content
    body = etree.fromstring(raw).find(f"{{{SOAP_ENV_NS}}}Body")
    returned = body[0][0]
    assert body[0].tag == f"{{{NS}}}getWorkOrdersResponse" and returned.tag == "getWorkOrdersReturn"
    assert returned.get("{http://schemas.xmlsoap.org/soap/encoding/}arrayType") == "tns1:WorkOrder[2]"
    refs = {el.get("id"): el for el in body.iterfind("multiRef")}
    first = refs[returned[0].get("href")[1:]]
    assert first.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "tns1:WorkOrder"
    assert refs[first.find("building").get("href")[1:]].findtext("ID") == "11"
    assert first.find("lastModifiedDateTime") is None and first.find("createdDate").text == "01/01/2026 00:00:00"

    client = _client(wsdl_url)
    records = list(client.iter_records("work_orders"))
    assert all(isinstance(r, SourceRecord) and r.modified_at is None for r in records)
    assert [r.source_id for r in records] == [9001, 9002, 9003, 9004, 9005]
    first_payload = records[0].payload
    assert first_payload["buildingID"] == 11 and first_payload["portfolioID"] == 1 and first_payload["unitID"] == 100
    assert first_payload["assignedVendors"] == [{"id": 700}]
    assert first_payload["createdDateTime"] == "2026-01-01T00:00:00Z"
    assert "lastModifiedDateTime" not in first_payload
    # a NUL cannot travel in XML: the service sends the text without it, and the rest arrives
    assert records[1].payload["description"] == "line1\nline2  nul"
    lease = next(client.iter_records("leases"))
    assert isinstance(lease, SourceRecord)
    assert lease.payload["tenantIDs"] == [500, 502] and lease.payload["primaryContactID"] == 500
    assert [c["primary"] for c in lease.payload["contacts"]] == [True, False]
    assert lease.payload["status"] == "Active" and lease.payload["startDate"] == "2025-06-01"
    tenants = [r.source_id for r in client.iter_records("tenants")]
    assert tenants == [500, 502]


def test_criteria_less_operations_are_full_reads(soap_server: tuple[SandboxState, str]) -> None:
    client = _client(soap_server[1])
    assert client.reads_everything("portfolios") and client.reads_everything("vendors")
    assert not client.reads_everything("work_orders")
    vendors = list(client.iter_records("vendors"))  # anyType[] whose items say xsi:type Vendor
    assert [r.source_id for r in vendors if isinstance(r, SourceRecord)] == [700]
    assert client.stats.calls == 2  # the WSDL and one getVendors, no paging


def _page(operation: str, struct: str, records: list[dict[str, Any]]) -> bytes:
    writer = Writer(multiref=True)
    items = "".join(writer.element("item", TypeRef(struct), r) for r in records)
    inner, _ = number_refs(f'<ns1:{operation}Response><{operation}Return xsi:type="soapenc:Array" '
                           f'soapenc:arrayType="tns1:{struct}[{len(records)}]">{items}</{operation}Return>'
                           f'</ns1:{operation}Response>' + "".join(writer.refs), 0)
    return envelope(inner)


@pytest.fixture
def stub() -> Iterator[tuple[HTTPServer, str]]:
    with pw_stub() as served:
        yield served


def test_a_bad_value_rejects_its_record_and_keeps_the_page(stub: tuple[HTTPServer, str]) -> None:
    server, wsdl_url = stub
    page = _page("getWorkOrders", "WorkOrder", [{"ID": 1, "status": "Open"}, {"ID": 2, "number": 7},
                                                 {"ID": 3, "status": "Open"}])
    answer_pw(server, page.replace(b">7<", b">seven<"))  # every page the same: pageNumber ignored
    client = _client(wsdl_url)
    records: list[SourceRecord | RejectedRecord] = []
    with pytest.raises(PermanentError, match="page 2 is page 1 again"):
        for record in client.iter_records("work_orders"):
            records.append(record)
    assert client.stats.retries == 0
    assert [type(r).__name__ for r in records] == ["SourceRecord", "RejectedRecord", "SourceRecord"]
    rejected = records[1]
    assert isinstance(rejected, RejectedRecord) and rejected.source_key == "2"
    assert "WorkOrder/number" in rejected.reason and "'seven'" in rejected.reason


def test_a_server_paging_forever_is_stopped_with_a_clear_error(stub: tuple[HTTPServer, str]) -> None:
    server, wsdl_url = stub

    calls = {"n": 0}

    def fresh_page(request: Request) -> Response:
        calls["n"] += 1
        return Response(_page("getWorkOrders", "WorkOrder", [{"ID": calls["n"] * 10 + i} for i in range(2)]),
                        content_type="text/xml")

    server.expect_request(SERVICE_PATH, method="POST").respond_with_handler(fresh_page)
    client = _client(wsdl_url, max_pages=5)
    with pytest.raises(PermanentError, match="more than 5 pages"):
        list(client.iter_records("work_orders"))
    assert calls["n"] == 5  # five pages asked for, then stopped


def test_an_oversized_answer_is_refused_once(stub: tuple[HTTPServer, str]) -> None:
    server, wsdl_url = stub
    answer_pw(server, _page("getWorkOrders", "WorkOrder", [{"ID": i, "description": "x" * 2000}
                                                           for i in range(20)]))
    client = _client(wsdl_url, max_response_bytes=20_000)
    with pytest.raises(PermanentError, match="byte limit"):
        list(client.iter_records("work_orders"))
    assert client.stats.retries == 0


BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                             .encode() for i in range(1, 10))
                  + b']><soapenv:Envelope xmlns:soapenv="' + SOAP_ENV_NS.encode() + b'"><soapenv:Body>'
                  b"<x>&lol9;</x></soapenv:Body></soapenv:Envelope>")


def test_a_billion_laughs_answer_is_refused_once_as_hostile(stub: tuple[HTTPServer, str]) -> None:
    server, wsdl_url = stub
    answer_pw(server, BILLION_LAUGHS)
    client = _client(wsdl_url)
    with pytest.raises(PermanentError, match="hostile"):
        list(client.iter_records("work_orders"))
    assert client.stats.calls == 2 and client.stats.retries == 0  # the WSDL, then one refused answer
