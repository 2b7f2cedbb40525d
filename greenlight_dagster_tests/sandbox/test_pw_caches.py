"""The PW sandbox's speed work changes nothing a client can see.

Two promises: a page served from the caches (each query's matching ids, each record's rendered
XML with its multiRefs renumbered per answer) decodes to exactly the records' legacy structs,
hostile text included; and the read caches never serve a stale page: a change through the admin
API, a SOAP write, a fixture load or a reset shows on the very next list page, including in a
``lastModified`` window.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from datetime import datetime
from typing import Any

import pytest

from greenlight_dagster.clients.pw_wire import format_utc, parse_utc
from greenlight_dagster.sandbox.generator import generate_fixture
from greenlight_dagster.sandbox.pw_server import LIST_OPERATIONS, PWService, response_envelope
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.sandbox.state import SandboxState
from greenlight_dagster_tests.sandbox.test_pw_server import FIXTURE, call, call_url, decode_return, ids, start_server

PW = "propertyware"


def served(service: PWService, operation: str, criteria: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One answer of a search as bytes on the wire, decoded back."""
    page = service.search(operation, criteria or {})
    decoded: list[dict[str, Any]] = decode_return(operation, response_envelope(operation, page))
    return decoded


def every_page(service: PWService, operation: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for number in range(1, 10_000):
        page = served(service, operation, {"pageNumber": number} if operation not in (
            "getAllPortfolios", "getVendors") else None)
        out += page
        if not page or operation in ("getAllPortfolios", "getVendors"):
            return out
    raise AssertionError("never ended")


HOSTILE = ["a & b < c > d", "]]> <![CDATA[ x", "quote \" and ' apostrophe", "tab\tnew\nline", "é ü 💥 \u2028",
           "", "   ", "line\r\nbreak", "&amp; already escaped", "x" * 5000, '"#id0" href="#id1"']


@pytest.mark.parametrize("scale", ["small", "demo"])
def test_cached_pages_decode_to_every_records_legacy_struct(scale: str) -> None:
    state = SandboxState(generate_fixture(7, scale))
    service = PWService(state, page_size=100 if scale == "small" else 500)
    for operation, op in LIST_OPERATIONS.items():
        table = state.table(PW, op.entity)
        expected = [service.legacy(op.struct, table[i]) for i in sorted(table)]
        assert every_page(service, operation) == expected, operation  # cold: rendered on the way out
        assert every_page(service, operation) == expected, operation  # hot: from the caches


def test_hostile_text_travels_without_what_xml_cannot_carry() -> None:
    state = SandboxState(copy.deepcopy(FIXTURE))
    for offset, text in enumerate(HOSTILE):
        state.patch(PW, "workOrders", 9001 + offset % 5, {"description": text, "priority": text,
                                                          "costEstimate": offset / 7})
    state.patch(PW, "workOrders", 9002, {"location": "nul \x00 here", "requestedBy": "\ufffe"})
    state.patch(PW, "contacts", 500, {"firstName": "<Ana & \"Co\">", "email": ""})
    service = PWService(state, page_size=2)
    work_orders = every_page(service, "getWorkOrders")
    assert work_orders[4]["description"] == HOSTILE[9]  # the last text patched onto 9005
    assert work_orders[1]["location"] == "nul  here"  # the text stays, less the characters XML cannot hold
    assert work_orders[1].get("requestedBy") in (None, "")
    assert every_page(service, "getLeases")[0]["tenants"][0]["firstName"] == "<Ana & \"Co\">"
    assert decode_return("getWorkOrder", response_envelope("getWorkOrder", None)) is None


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
        assert ids(served(service, "getWorkOrders", asked)) == reference_ids(table, asked, equal), asked


def description_of(page: list[dict[str, Any]], work_order_id: int) -> str | None:
    return next((w.get("description") for w in page if w["ID"] == work_order_id), None)


def test_soap_writes_and_state_changes_show_on_the_very_next_page() -> None:
    state = SandboxState(copy.deepcopy(FIXTURE))
    server = start_server(state, page_size=10)
    try:
        since = {"lastModifiedOnOrAfter": "2026-01-04T00:00:00Z"}
        newest = {"orderByNewestFirst": True}
        assert ids(call(server, "getWorkOrders", criteria=since)) == []
        assert description_of(call(server, "getWorkOrders", criteria={}), 9003) == "job 3"  # both queries cached
        call(server, "updateWorkOrder", workOrder={"ID": 9003, "description": "fixed"})
        assert description_of(call(server, "getWorkOrders", criteria={}), 9003) == "fixed"
        assert ids(call(server, "getWorkOrders", criteria=since)) == [9003]
        assert ids(call(server, "getWorkOrders", criteria=newest))[0] == 9003
        call(server, "closeWorkOrder", workOrderID="9001", category="Plumbing", closingComments="done")
        assert ids(call(server, "getWorkOrders", criteria=since)) == [9001, 9003]
        call(server, "attachNoteToWorkOrder", note={"body": "hi"}, workOrder={"ID": 9002})
        assert ids(call(server, "getWorkOrders", criteria=since)) == [9001, 9002, 9003]
        assert ids(call(server, "getWorkOrders", criteria=newest))[:3] == [9002, 9001, 9003]

        state.delete(PW, "workOrders", 9004)
        assert 9004 not in ids(call(server, "getWorkOrders", criteria={}))

        def tenants() -> list[str | None]:
            return [t.get("firstName") for t in call(server, "getLeases", criteria={})[0]["tenants"]]

        assert tenants() == ["Ana", "Cy"]
        state.patch(PW, "contacts", 502, {"firstName": "Cyrus"})  # embedded in its lease, which did not change
        assert tenants() == ["Ana", "Cyrus"]

        state.reset()
        assert description_of(call(server, "getWorkOrders", criteria={}), 9003) == "job 3"
        assert ids(call(server, "getWorkOrders", criteria=since)) == []
        state.load({**copy.deepcopy(FIXTURE), "propertyware": {"workOrders": [
            {"id": 9003, "description": "another world", "lastModifiedDateTime": "2026-01-04T00:00:00Z"}]}})
        assert description_of(call(server, "getWorkOrders", criteria={}), 9003) == "another world"
        assert ids(call(server, "getWorkOrders", criteria=since)) == [9003]
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
    url, auth = info["pw_wsdl_url"].removesuffix("?wsdl"), (info["pw_username"], info["pw_password"])
    clock = format_utc(fresh_sandbox.state.now())
    first = call_url(url, auth, "getWorkOrders", criteria={"pageNumber": 1})
    since = call_url(url, auth, "getWorkOrders", criteria={"lastModifiedOnOrAfter": clock})
    target = first[7]
    assert since == [] and target.get("description") != "changed by a user"

    patched = admin_patch(fresh_sandbox, f"/propertyware/workOrders/{target['ID']}",
                          {"description": "changed by a user"})
    again = call_url(url, auth, "getWorkOrders", criteria={"pageNumber": 1})
    assert again[7]["description"] == "changed by a user" and patched["lastModifiedDateTime"] == clock
    since = call_url(url, auth, "getWorkOrders", criteria={"lastModifiedOnOrAfter": clock})
    assert ids(since) == [target["ID"]]
