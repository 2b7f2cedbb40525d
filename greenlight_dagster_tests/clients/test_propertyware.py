"""PropertyWareClient against the legacy PWServices sandbox: reads, windows, streaming, retries, writes."""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.pw_entities import pw_entity
from greenlight_dagster.clients.pw_legacy import from_legacy
from greenlight_dagster.clients.pw_wire import Decoder, WireValueError
from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.resilience import CircuitBreaker, CircuitOpenError, PermanentError, RetryPolicy
from greenlight_dagster.sandbox.httpbase import SandboxHTTPServer
from greenlight_dagster.sandbox.pw_server import SERVICE_PATH, PWService
from greenlight_dagster.sandbox.state import SandboxState
from greenlight_dagster_tests.sandbox.test_pw_server import FIXTURE, PASSWORD, USER, start_server

PW = "propertyware"
FIXTURE_KEYS = {"portfolios": "portfolios", "buildings": "buildings", "units": "units", "leases": "leases",
                "vendors": "vendors", "work_orders": "workOrders"}


class RecordingLog:
    """Stands in for Dagster's ``context.log``."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


@pytest.fixture
def state() -> SandboxState:
    return SandboxState(copy.deepcopy(FIXTURE))


@pytest.fixture
def server(state: SandboxState) -> Iterator[SandboxHTTPServer]:
    srv = start_server(state, page_size=2)
    yield srv
    srv.stop()


@pytest.fixture
def make_client(server: SandboxHTTPServer) -> Callable[..., PropertyWareClient]:
    def build(**options: Any) -> PropertyWareClient:
        options.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01,
                                                rng=random.Random(0)))
        password = options.pop("password", PASSWORD)
        return PropertyWareClient(server.base_url + SERVICE_PATH + "?wsdl", USER, password, timeout=5, **options)
    return build


def source_records(records: Iterator[SourceRecord | RejectedRecord]) -> list[SourceRecord]:
    out = list(records)
    assert all(isinstance(r, SourceRecord) for r in out), out
    return [r for r in out if isinstance(r, SourceRecord)]


@pytest.mark.parametrize("entity", sorted(FIXTURE_KEYS))
def test_full_read_returns_every_fixture_record_unchanged(make_client: Callable[..., PropertyWareClient],
                                                          state: SandboxState, entity: str) -> None:
    client = make_client()
    client.echo("warm up")  # the WSDL and one echo
    records = source_records(client.iter_records(entity))
    fixture = state.snapshot()[PW][FIXTURE_KEYS[entity]]
    struct = pw_entity(entity).soap_struct
    service = PWService(state, 2)
    # What the legacy struct can carry, mapped back: the fixture's REST names, minus what it has no field for.
    assert [r.payload for r in records] == [from_legacy(struct, service.legacy(struct, e)) for e in fixture]
    assert [r.source_id for r in records] == [e["id"] for e in fixture]
    assert all(r.entity == entity and r.modified_at is None for r in records)
    assert all("lastModifiedDateTime" not in r.payload for r in records)
    # The last page is short or empty; a first page of one record cannot tell, so an empty one follows it.
    pages = 1 if client.reads_everything(entity) else max(2, len(fixture) // 2 + 1)
    assert client.stats.calls == 2 + pages


def test_tenants_are_tenant_contacts_and_leases_carry_them(make_client: Callable[..., PropertyWareClient]) -> None:
    client = make_client()
    assert [r.source_id for r in source_records(client.iter_records("tenants"))] == [500, 502]
    lease = source_records(client.iter_records("leases"))[0].payload
    assert lease["status"] == "Active" and lease["tenantIDs"] == [500, 502]
    assert lease["contacts"] == [
        {"id": 500, "type": "TENANT", "firstName": "Ana", "lastName": "Ruiz", "email": "ana@example.com",
         "primary": True},
        {"id": 502, "type": "TENANT", "firstName": "Cy", "lastName": "Ruiz", "mobilePhone": "555-0102",
         "primary": False},
    ]
    assert lease["primaryContactID"] == 500 and lease["startDate"] == "2025-06-01"


def test_incremental_window_is_inclusive(make_client: Callable[..., PropertyWareClient]) -> None:
    client = make_client()
    records = source_records(client.iter_records(
        "work_orders", modified_from=datetime(2026, 1, 3, 10, tzinfo=UTC), modified_to=datetime(2026, 1, 3, 12)))
    assert [r.source_id for r in records] == [9002, 9003, 9004]
    assert client.read_until == datetime(2026, 1, 3, 12, tzinfo=UTC)  # the window asked for: the mark it earns


def test_an_open_window_ends_at_the_service_time_of_the_first_answer(
        make_client: Callable[..., PropertyWareClient], state: SandboxState) -> None:
    client = make_client()
    list(client.iter_records("work_orders", modified_from=datetime(2026, 1, 3, 10, tzinfo=UTC)))
    assert client.read_until == state.now()  # the sandbox's clock (its HTTP Date), not ours


def test_reads_stream_page_by_page(make_client: Callable[..., PropertyWareClient], state: SandboxState) -> None:
    client = make_client()
    client.echo("warm up")  # loads the WSDL, so the log below holds only the search calls
    before = len(state.request_log())
    records = client.iter_records("work_orders")
    next(records)
    assert [r["operation"] for r in state.request_log(before)] == ["getWorkOrders"]
    assert len(list(records)) == 4
    assert [r["operation"] for r in state.request_log(before)] == ["getWorkOrders"] * 3


def test_a_wrongly_typed_element_names_the_field(make_client: Callable[..., PropertyWareClient]) -> None:
    element = etree.fromstring("<w><ID>12</ID><building><ID>ten</ID></building></w>")
    with pytest.raises(WireValueError, match="WorkOrder/building/ID: 'ten' is not a valid xsd:long"):
        Decoder(etree.Element("Body"), strict=False).struct(element, "WorkOrder", "WorkOrder")


@pytest.mark.parametrize("kind", ["reset", "error", "rate_limit"])
def test_transient_faults_are_retried(make_client: Callable[..., PropertyWareClient], state: SandboxState,
                                      kind: str) -> None:
    client = make_client()
    client.echo("warm up")
    state.faults.add({"server": "pw", "operation": "getWorkOrders", "kind": kind, "rate": 0.5, "seed": 1})
    assert [r.source_id for r in source_records(client.iter_records("work_orders"))] == [9001, 9002, 9003, 9004, 9005]
    assert client.stats.retries >= 1
    assert client.stats.rate_limited == (client.stats.retries if kind == "rate_limit" else 0)


def test_auth_faults_are_not_retried(make_client: Callable[..., PropertyWareClient], state: SandboxState) -> None:
    client = make_client(password="wrong-password")
    with pytest.raises(PermanentError, match="getWorkOrders: authentication failed") as info:
        list(client.iter_records("work_orders"))
    assert "wrong-password" not in str(info.value) and "wrong-password" not in repr(client)
    assert [r["operation"] for r in state.request_log() if r["method"] == "POST"] == ["getWorkOrders"]
    assert client.stats.retries == 0


def test_client_faults_are_not_retried(make_client: Callable[..., PropertyWareClient]) -> None:
    client = make_client()
    client.echo("warm up")
    with pytest.raises(PermanentError, match="updateWorkOrder: SOAP fault Client: work order 1 not found"):
        client.update_work_order(1, status="Open")
    with pytest.raises(PermanentError, match="updateWorkOrder cannot carry scheduleNote"):
        client.update_work_order(9001, status="Open", scheduleNote={"by": "SF"})  # refused before sending
    assert client.stats.calls == 3


def test_circuit_breaker_opens_and_is_logged(make_client: Callable[..., PropertyWareClient],
                                             state: SandboxState) -> None:
    log = RecordingLog()
    client = make_client(log=log, retry=RetryPolicy(max_attempts=10, base_delay=0.001, max_delay=0.001),
                         breaker=CircuitBreaker("PropertyWare", failure_threshold=3, on_open=log.warning))
    client.echo("warm up")
    state.faults.add({"server": "pw", "operation": "*", "kind": "reset"})
    with pytest.raises(CircuitOpenError):
        client.echo("x")
    assert client.stats.circuit_opened == 1 and client.stats.failures == 3
    assert log.warnings == ["PropertyWare circuit breaker opened after 3 consecutive failures"]
    with pytest.raises(CircuitOpenError):  # fails fast: no request reaches the server
        client.echo("y")
    assert len([r for r in state.request_log() if r["operation"] == "echoString"]) == 4


def test_default_breaker_warns_through_the_given_log(make_client: Callable[..., PropertyWareClient],
                                                     state: SandboxState) -> None:
    log = RecordingLog()
    client = make_client(log=log, retry=RetryPolicy(max_attempts=6, base_delay=0.001, max_delay=0.001))
    state.faults.add({"server": "pw", "operation": "*", "kind": "error"})
    with pytest.raises(CircuitOpenError):
        client.echo("x")
    assert log.warnings and "circuit breaker opened" in log.warnings[0]


def test_writes_land_in_the_sandbox(make_client: Callable[..., PropertyWareClient], state: SandboxState) -> None:
    client = make_client()
    assert client.echo("ping") == "ping"
    assert client.get_work_order(424242) is None
    updated = client.update_work_order(9001, status="In Progress", priority="LOW")
    assert updated["status"] == "In Progress" and updated["priority"] == "LOW" and updated["unitID"] == 100
    assert state.get(PW, "workOrders", 9001)["unitIDs"] == [100, 101]  # a partial update keeps the rest
    noted = client.attach_note(9001, "Job 8000 scheduled in ServiceFusion")
    assert noted["note"] == "Job 8000 scheduled in ServiceFusion"
    assert state.get(PW, "workOrders", 9001)["notes"][-1]["note"] == "Job 8000 scheduled in ServiceFusion"
    calls = len(state.request_log())
    client.close_work_order(9001, category="Plumbing", closing_comments="Done by FastFix", completed_date="2026-01-05")
    assert [r["operation"] for r in state.request_log(since=calls)] == ["closeWorkOrder"]  # no read-back
    stored = state.get(PW, "workOrders", 9001)
    assert stored["status"] == "Completed" and stored["closingComments"] == "Done by FastFix"
    assert stored["completedDate"] == "2026-01-05" and stored["lastModifiedDateTime"] > "2026-01-05T12:00:00Z"
    assert client.get_work_order(9001)["status"] == "Completed"


def test_a_note_is_attached_once_when_the_answer_is_lost(make_client: Callable[..., PropertyWareClient],
                                                         state: SandboxState) -> None:
    client = make_client()
    state.faults.add({"server": "pw", "operation": "attachNoteToWorkOrder", "kind": "commit_then_drop"})
    result = client.attach_note(9003, "Tech arrived")
    assert [n["note"] for n in state.get(PW, "workOrders", 9003)["notes"]] == ["Tech arrived"]
    assert result["note"] == "Tech arrived" and client.stats.retries == 1


def test_header_auth_mode_and_no_password_in_logs(state: SandboxState, caplog: pytest.LogCaptureFixture) -> None:
    srv = start_server(state, auth_mode="header")
    try:
        client = PropertyWareClient(srv.base_url + SERVICE_PATH + "?wsdl", USER, PASSWORD, auth_mode="header")
        with caplog.at_level(logging.DEBUG):
            assert client.echo("over a header") == "over a header"
            assert len(list(client.iter_records("vendors"))) == 1
        assert PASSWORD not in caplog.text
    finally:
        srv.stop()


def test_the_wsdl_is_fetched_once_per_process(make_client: Callable[..., PropertyWareClient],
                                              state: SandboxState) -> None:
    for _ in range(3):
        make_client().echo("hi")
    assert len([r for r in state.request_log() if r["operation"] == "wsdl"]) == 1


def test_unknown_entity_is_a_clear_error(make_client: Callable[..., PropertyWareClient]) -> None:
    with pytest.raises(ValueError, match="unknown PropertyWare entity 'jobs'"):
        next(make_client().iter_records("jobs"))
