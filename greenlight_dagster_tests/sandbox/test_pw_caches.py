"""The PW sandbox's speed work changes nothing a client can see.

Two promises: responses are byte-for-byte what the element-tree serialiser produced before
(`pw_xml` is checked against lxml over whole generated worlds and hostile values), and the
read caches never serve a stale page: a change through the admin API, a SOAP write, a fixture
load or a reset shows on the very next list page, including in a ``lastModified`` window.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from datetime import datetime
from typing import Any

import pytest
import requests
import zeep
from lxml import etree

from greenlight_dagster.clients.pw_wire import NS, format_utc, parse_utc
from greenlight_dagster.sandbox.generator import generate_fixture
from greenlight_dagster.sandbox.pw_server import (
    LIST_OPERATIONS,
    PWService,
    emit,
    envelope,
    response_envelope,
    wire_schema,
)
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.sandbox.state import SandboxState
from greenlight_dagster_tests.sandbox.test_pw_server import FIXTURE, call, criteria, ids, start_server

PW = "propertyware"


def lxml_envelope(operation: str, wire: dict[str, Any]) -> bytes:
    """The element-tree serialiser the sandbox used before `pw_xml`: the oracle for byte equality."""
    return envelope(lambda body: emit(etree.SubElement(body, f"{{{NS}}}{operation}Response"), wire))


def served_pages(service: PWService, operation: str, page_size: int) -> list[tuple[dict[str, Any], bytes]]:
    """Every page of a list operation: the plain response (records as dicts) and the bytes served."""
    pages = []
    table = service.state.table(PW, LIST_OPERATIONS[operation].entity)
    for number in range(1, len(table) // page_size + 3):  # one page past the end: the empty page
        response = service.search(operation, {"pageNumber": number, "pageSize": page_size})
        served = response_envelope(operation, response)
        root = etree.fromstring(served)
        plain = dict(response)
        if LIST_OPERATIONS[operation].item in plain:
            plain[LIST_OPERATIONS[operation].item] = [
                service._served(LIST_OPERATIONS[operation].entity, table[int(e.findtext(f"{{{NS}}}ID"))])
                for e in root.iter(f"{{{NS}}}{LIST_OPERATIONS[operation].item}")]
        pages.append((plain, served))
    return pages


HOSTILE = ["a & b < c > d", "]]> <![CDATA[ x", "quote \" and ' apostrophe", "tab\tnew\nline", "é ü 💥 \u2028",
           "", "   ", "line\r\nbreak", "nul \x00 here", "\ufffe", "&amp; already escaped", "x" * 5000]


@pytest.mark.parametrize("scale", ["small", "demo"])
def test_list_pages_are_byte_identical_to_the_element_tree_serialiser(scale: str) -> None:
    service = PWService(SandboxState(generate_fixture(7, scale)), page_size=100)
    schema = wire_schema()
    for operation in LIST_OPERATIONS:
        for plain, served in served_pages(service, operation, 100 if scale == "small" else 500):
            wire, left = schema.to_wire(plain, schema.element_type(f"{operation}Response"))
            assert not left
            assert served == lxml_envelope(operation, wire), operation


def test_hostile_text_and_off_type_values_are_byte_identical() -> None:
    state = SandboxState(copy.deepcopy(FIXTURE))
    for offset, text in enumerate(HOSTILE):
        state.patch(PW, "workOrders", 9001 + offset % 5, {f"note{offset}": text, "description": text,
                                                          "priority": text, "costEstimate": offset / 7})
    state.patch(PW, "contacts", 500, {"firstName": "<Ana & \"Co\">", "email": ""})
    service = PWService(state, page_size=2)
    schema = wire_schema()
    for operation in ("getWorkOrders", "getLeases", "getContacts", "getBuildings", "getUnits"):
        for plain, served in served_pages(service, operation, 2):
            wire, _ = schema.to_wire(plain, schema.element_type(f"{operation}Response"))
            assert served == lxml_envelope(operation, wire)
    single = {"workOrder": copy.deepcopy(state.get(PW, "workOrders", 9002))}
    wire, _ = schema.to_wire(single, schema.element_type("getWorkOrderResponse"))
    assert response_envelope("getWorkOrder", single) == lxml_envelope("getWorkOrder", wire)
    assert response_envelope("getWorkOrder", {}) == lxml_envelope("getWorkOrder", {})


def reference_ids(table: dict[int, dict[str, Any]], criteria: dict[str, Any], equal: dict[str, Any]) -> list[int]:
    """The matching ids as the sandbox computed them before its caches: filter every record, sort."""
    def modified(record: dict[str, Any]) -> datetime | None:
        try:
            return parse_utc(record["lastModifiedDateTime"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    after, before = (parse_utc(criteria[k]) if k in criteria else None
                     for k in ("lastModifiedOnOrAfter", "lastModifiedOnOrBefore"))

    def matches(record_id: int, record: dict[str, Any]) -> bool:
        if criteria.get("ids") and record_id not in criteria["ids"]:
            return False
        if any(record.get(f) != v for f, v in equal.items()):
            return False
        if after is None and before is None:
            return True
        m = modified(record)
        return m is not None and (after is None or m >= after) and (before is None or m <= before)

    def newest_first(item: tuple[int, dict[str, Any]]) -> tuple[bool, float, int]:
        m = modified(item[1])
        return (m is not None, m.timestamp() if m else 0.0, item[0])

    found = sorted(((i, r) for i, r in table.items() if matches(i, r)), key=lambda item: item[0])
    if criteria.get("orderByNewestFirst"):
        found.sort(key=newest_first, reverse=True)
    return [i for i, _ in found]


def test_matching_ids_are_what_filtering_and_sorting_every_record_gives() -> None:
    state = SandboxState(generate_fixture(3, "small"))
    table = state.table(PW, "workOrders")
    first, *rest = sorted(table)
    for offset, record_id in enumerate(rest[:40]):  # ties, offsets, no timestamp, garbage, pre-1970
        stamp = ["2026-01-04T10:00:00Z", "2026-01-04T05:00:00-05:00", None, "last Tuesday", 7,
                 "1969-07-20T20:17:00Z"][offset % 6]
        table[record_id]["lastModifiedDateTime"] = stamp
    del table[first]["lastModifiedDateTime"]
    service = PWService(state, page_size=1000)
    buildings = sorted({r["buildingID"] for r in table.values()})
    for asked, equal in [
        ({}, {}), ({"orderByNewestFirst": True}, {}),
        ({"lastModifiedOnOrAfter": "2026-01-04T10:00:00Z"}, {}),
        ({"lastModifiedOnOrAfter": "2025-11-01T00:00:00Z", "lastModifiedOnOrBefore": "2026-01-04T10:00:00Z",
          "orderByNewestFirst": True}, {}),
        ({"ids": [*rest[:60:3], 1], "orderByNewestFirst": True}, {}),
        ({"buildingId": buildings[1], "orderByNewestFirst": True}, {"buildingID": buildings[1]}),
    ]:
        expected = reference_ids(table, asked, equal)
        served = service.search("getWorkOrders", {**asked, "pageSize": 1000})
        assert [int(f[f.index(b"<pw:ID>") + 7:f.index(b"</pw:ID>")]) for f in served.get("workOrder", [])] == \
            expected, asked
        assert served["totalCount"] == len(expected)


def description_of(page: etree._Element, work_order_id: int) -> str | None:
    for element in page.findall(f"{{{NS}}}workOrder"):
        if element.findtext(f"{{{NS}}}ID") == str(work_order_id):
            return element.findtext(f"{{{NS}}}description")
    return None


def test_soap_writes_and_state_changes_show_on_the_very_next_page() -> None:
    state = SandboxState(copy.deepcopy(FIXTURE))
    server = start_server(state, page_size=10)
    try:
        since = criteria(lastModifiedOnOrAfter="2026-01-04T00:00:00Z")
        assert ids(call(server, "getWorkOrders", since), "workOrder") == []
        assert description_of(call(server, "getWorkOrders"), 9003) == "job 3"  # both queries now cached
        call(server, "updateWorkOrder", "<pw:workOrder><pw:ID>9003</pw:ID><pw:description>fixed</pw:description>"
                                        "</pw:workOrder>")
        assert description_of(call(server, "getWorkOrders"), 9003) == "fixed"
        assert ids(call(server, "getWorkOrders", since), "workOrder") == [9003]
        newest = call(server, "getWorkOrders", criteria(orderByNewestFirst="true"))
        assert ids(newest, "workOrder")[0] == 9003
        call(server, "closeWorkOrder", "<pw:workOrderID>9001</pw:workOrderID><pw:category>Plumbing</pw:category>"
                                       "<pw:closingComments>done</pw:closingComments>")
        assert ids(call(server, "getWorkOrders", since), "workOrder") == [9001, 9003]
        call(server, "attachNoteToWorkOrder", "<pw:workOrderID>9002</pw:workOrderID><pw:note>hi</pw:note>")
        assert ids(call(server, "getWorkOrders", since), "workOrder") == [9001, 9002, 9003]
        assert ids(call(server, "getWorkOrders", criteria(orderByNewestFirst="true")), "workOrder")[:3] == \
            [9002, 9001, 9003]

        state.delete(PW, "workOrders", 9004)
        page = call(server, "getWorkOrders")
        assert 9004 not in ids(page, "workOrder") and page.findtext(f"{{{NS}}}totalCount") == "4"
        def tenants() -> list[str | None]:
            return [t.findtext(f"{{{NS}}}firstName") for t in call(server, "getLeases").iter(f"{{{NS}}}tenants")]

        assert tenants() == ["Ana", "Cy"]
        state.patch(PW, "contacts", 502, {"firstName": "Cyrus"})  # embedded in its lease, which did not change
        assert tenants() == ["Ana", "Cyrus"]

        state.reset()
        assert description_of(call(server, "getWorkOrders"), 9003) == "job 3"
        assert ids(call(server, "getWorkOrders", since), "workOrder") == []
        state.load({**copy.deepcopy(FIXTURE), "propertyware": {"workOrders": [
            {"id": 9003, "description": "another world", "lastModifiedDateTime": "2026-01-04T00:00:00Z"}]}})
        assert description_of(call(server, "getWorkOrders"), 9003) == "another world"
        assert ids(call(server, "getWorkOrders", since), "workOrder") == [9003]
    finally:
        server.stop()


def admin_patch(sandbox: Sandbox, path: str, changes: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(sandbox.info["admin_url"] + path, data=json.dumps(changes).encode(),
                                     method="PATCH", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def test_admin_changes_show_on_the_very_next_page(fresh_sandbox: Sandbox) -> None:
    info = fresh_sandbox.info
    session = requests.Session()
    session.auth = (info["pw_username"], info["pw_password"])
    client = zeep.Client(info["pw_wsdl_url"], transport=zeep.Transport(session=session))
    clock = format_utc(fresh_sandbox.state.now())
    first = client.service.getWorkOrders(criteria={"pageNumber": 1, "pageSize": 50})
    since = client.service.getWorkOrders(criteria={"lastModifiedOnOrAfter": clock})
    target = first.workOrder[7]
    assert since.totalCount == 0 and target.description != "changed by a user"

    patched = admin_patch(fresh_sandbox, f"/propertyware/workOrders/{target.ID}", {"description": "changed by a user"})
    again = client.service.getWorkOrders(criteria={"pageNumber": 1, "pageSize": 50})
    assert again.workOrder[7].description == "changed by a user"
    assert format_utc(again.workOrder[7].lastModifiedDateTime) == patched["lastModifiedDateTime"] == clock
    since = client.service.getWorkOrders(criteria={"lastModifiedOnOrAfter": clock})
    assert [w.ID for w in since.workOrder] == [target.ID]
