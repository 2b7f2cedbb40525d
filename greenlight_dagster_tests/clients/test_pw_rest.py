"""PropertyWareRestClient against the REST sandbox: reads, windows, rejection, faults, writes, secrets."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from greenlight_dagster.clients.pw_entities import PW_ENTITIES
from greenlight_dagster.clients.pw_rest import PropertyWareRestClient
from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.resilience import (
    AmbiguousWriteError,
    CircuitBreaker,
    CircuitOpenError,
    PermanentError,
    RetryableError,
    RetryPolicy,
)
from greenlight_dagster.sandbox.generator import generate_fixture
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.sandbox.state import parse_ts

FAST = RetryPolicy(max_attempts=6, base_delay=0.0, max_delay=0.0)
Make = Callable[..., PropertyWareRestClient]


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    return generate_fixture(5, "small")


@pytest.fixture(scope="module")
def running(world: dict[str, Any]) -> Iterator[Sandbox]:
    with Sandbox(world, pw_rest_options={"rate_limit_per_second": None}) as rest_sandbox:
        yield rest_sandbox


@pytest.fixture
def rest_sandbox(running: Sandbox) -> Sandbox:
    running.reset()
    return running


def client_for(info: dict[str, str], **options: Any) -> PropertyWareRestClient:
    settings: dict[str, Any] = {"page_size": 40, "retry": FAST, "requests_per_second": 1000.0, "timeout": 5.0,
                                **options}
    return PropertyWareRestClient(info["pw_rest_url"], info["pw_client_id"], info["pw_client_secret"],
                                  info["pw_system_id"], **settings)


@pytest.fixture
def make(rest_sandbox: Sandbox) -> Make:
    return lambda **options: client_for(rest_sandbox.info, **options)


def pw_requests(rest_sandbox: Sandbox) -> list[dict[str, Any]]:
    return [r for r in rest_sandbox.state.request_log() if r["server"] == "pw"]


def test_every_entity_is_read_whole_in_id_order(make: Make, rest_sandbox: Sandbox) -> None:
    client = make()
    pw = rest_sandbox.fixture["propertyware"]
    for entity in PW_ENTITIES:
        records = list(client.iter_records(entity.name))
        assert all(isinstance(r, SourceRecord) for r in records), entity.name
        expected = sorted(r["id"] for r in pw[entity.fixture_key]
                          if all(r.get(k) == v for k, v in entity.record_filter))
        assert [r.source_id for r in records] == expected, entity.name
    work_orders = {r["id"]: r for r in pw["workOrders"]}
    read = next(r for r in client.iter_records("work_orders") if isinstance(r, SourceRecord))
    assert read.modified_at == parse_ts(work_orders[read.source_id]["lastModifiedDateTime"])
    assert read.payload["status"] == work_orders[read.source_id]["status"]
    pages = [r for r in pw_requests(rest_sandbox) if r["operation"] == "GET /workorders"]
    assert all("orderby=id" in r["path"] and "limit=40" in r["path"] for r in pages)


def test_the_window_is_inclusive_and_sent_in_utc(make: Make, rest_sandbox: Sandbox) -> None:
    stamps = sorted(parse_ts(w["lastModifiedDateTime"]) for w in rest_sandbox.fixture["propertyware"]["workOrders"])
    start, end = stamps[10], stamps[30]
    records = list(make().iter_records("work_orders", modified_from=start, modified_to=end))
    assert {r.modified_at for r in records if isinstance(r, SourceRecord)} == {s for s in stamps if start <= s <= end}
    assert "lastModifiedDateTimeStart=" + start.strftime("%Y-%m-%dT%H:%M:%SZ").replace(":", "%3A") in \
        pw_requests(rest_sandbox)[-1]["path"]


def test_a_bad_record_is_rejected_and_the_rest_of_its_page_kept(world: dict[str, Any]) -> None:
    planted = copy.deepcopy(world)
    work_orders = planted["propertyware"]["workOrders"]
    work_orders[0]["lastModifiedDateTime"] = "last Tuesday"
    with Sandbox(planted, pw_rest_options={"rate_limit_per_second": None}) as rest_sandbox:
        # Planted after the load, as a broken upstream would serve it: an id that is not an integer.
        rest_sandbox.state.table("propertyware", "workOrders")[work_orders[1]["id"]]["id"] = "WO-77"
        records = list(client_for(rest_sandbox.info).iter_records("work_orders"))
    rejected = [r for r in records if isinstance(r, RejectedRecord)]
    assert {(r.source_key, r.reason.split(" is ")[0]) for r in rejected} == {
        (str(work_orders[0]["id"]), "lastModifiedDateTime 'last Tuesday'"), ("WO-77", "id 'WO-77'")}
    assert all('"id"' in r.raw for r in rejected)
    assert sum(isinstance(r, SourceRecord) for r in records) == len(work_orders) - 2


@pytest.mark.parametrize("kind", ["reset", "error", "rate_limit"])
def test_transient_faults_are_retried(make: Make, rest_sandbox: Sandbox, kind: str) -> None:
    rest_sandbox.state.faults.add({"server": "pw", "operation": "GET /workorders", "kind": kind, "rate": 0.3,
                                   "seed": 4})
    client = make()
    records = list(client.iter_records("work_orders"))
    assert len(records) == len(rest_sandbox.fixture["propertyware"]["workOrders"])
    assert client.stats.retries > 0
    assert (client.stats.rate_limited > 0) == (kind == "rate_limit")


def test_the_servers_rate_limit_is_met_with_backoff() -> None:
    with Sandbox(generate_fixture(5, "small"), pw_rest_options={"rate_limit_per_second": 2}) as rest_sandbox:
        client = client_for(rest_sandbox.info, retry=RetryPolicy(max_attempts=8, base_delay=0.2, max_delay=1.0))
        records = list(client.iter_records("work_orders"))
    assert len(records) == len(rest_sandbox.fixture["propertyware"]["workOrders"])
    assert client.stats.rate_limited > 0 and client.stats.wait_seconds > 0


def test_a_limit_below_the_pace_is_learned_from_the_first_429s() -> None:
    """PW's limit is undocumented ("about 10 a second", a future note): a key limited to 3 a second must cost
    a few 429s while the pace comes down, not one on every other call (39 for 31 pages at a fixed pace)."""
    with Sandbox(generate_fixture(5, "small"), pw_rest_options={"rate_limit_per_second": 3}) as rest_sandbox:
        client = client_for(rest_sandbox.info, requests_per_second=10.0, page_size=5,
                            retry=RetryPolicy(max_attempts=8, base_delay=0.2, max_delay=1.0))
        records = list(client.iter_records("work_orders"))
    assert len(records) == len(rest_sandbox.fixture["propertyware"]["workOrders"])
    pages = client.stats.calls - client.stats.rate_limited
    assert 0 < client.stats.rate_limited <= pages // 2, (client.stats.rate_limited, pages)


def test_pacing_keeps_under_the_limit() -> None:
    with Sandbox(generate_fixture(5, "small"), pw_rest_options={"rate_limit_per_second": 5}) as rest_sandbox:
        client = client_for(rest_sandbox.info, requests_per_second=4.0, page_size=25)
        list(client.iter_records("work_orders"))
    assert client.stats.calls >= 5 and client.stats.rate_limited == 0


def test_refusals_are_not_retried_and_say_what_to_check(rest_sandbox: Sandbox) -> None:
    client = client_for({**rest_sandbox.info, "pw_client_secret": "wrong"})
    with pytest.raises(PermanentError, match=r"HTTP 401.*GREENLIGHT_PW_CLIENT_SECRET"):
        list(client.iter_records("vendors"))
    assert client.stats.calls == 1
    assert "wrong" not in repr(client)
    assert rest_sandbox.info["pw_client_secret"] not in repr(client_for(rest_sandbox.info))


def test_the_breaker_opens_on_an_outage(make: Make, rest_sandbox: Sandbox) -> None:
    rest_sandbox.state.faults.add({"server": "pw", "operation": "*", "kind": "error"})
    client = make(breaker=CircuitBreaker("PropertyWare", failure_threshold=3), retry=RetryPolicy(
        max_attempts=10, base_delay=0.0, max_delay=0.0))
    with pytest.raises(CircuitOpenError):
        list(client.iter_records("vendors"))
    assert client.stats.calls == 3 and client.stats.circuit_opened == 1


@pytest.mark.parametrize(("body", "message"), [(b"<html>bad gateway</html>", "not JSON"),
                                               (b'[{"id": 1}', "not JSON"),
                                               (b'{"items": []}', "expected a JSON array")])
def test_a_malformed_page_is_retried_then_reported(httpserver: HTTPServer, body: bytes, message: str) -> None:
    httpserver.expect_request(re.compile(".*"), method="GET").respond_with_data(body, content_type="application/json")
    client = PropertyWareRestClient(httpserver.url_for("/pw/api/rest/v1"), "id", "s", "1",
                                    retry=RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0),
                                    requests_per_second=1000.0)
    with pytest.raises(RetryableError, match=message):
        list(client.iter_records("vendors"))
    assert client.stats.calls == 2


def test_create_and_close_land_in_the_sandbox(make: Make, rest_sandbox: Sandbox) -> None:
    client = make()
    building = rest_sandbox.fixture["propertyware"]["buildings"][0]
    created = client.create_work_order({"buildingID": building["id"], "category": "Plumbing", "priority": "LOW"})
    assert created["status"] == "Open" and created["buildingID"] == building["id"]
    assert client.get_work_order(created["id"]) == created
    assert client.get_work_order(987_654_321) is None
    with pytest.raises(PermanentError, match="has no assigned vendor"):
        client.close_work_order(created["id"], category="Plumbing", closing_comments="done")
    vendor = rest_sandbox.fixture["propertyware"]["vendors"][0]["id"]
    closed = client.close_work_order(created["id"], category="Plumbing", closing_comments="Fixed the trap",
                                     completed_date="2026-01-05", vendor_id=vendor)
    assert closed["status"] == "Completed" and closed["closingComments"] == "Fixed the trap"
    rest_sandbox.state.patch("propertyware", "workOrders", created["id"], {"status": "Open",
                                                                      "assignedVendors": [{"id": vendor}]})
    assert client.close_work_order(created["id"], category="Plumbing", closing_comments="again")["status"] == \
        "Completed"


def test_a_create_whose_answer_is_lost_is_not_sent_again(make: Make, rest_sandbox: Sandbox) -> None:
    rest_sandbox.state.faults.add({"server": "pw", "operation": "POST /workorders", "kind": "commit_then_drop"})
    before = len(rest_sandbox.state.table("propertyware", "workOrders"))
    client = make()
    with pytest.raises(AmbiguousWriteError):
        client.create_work_order({"buildingID": rest_sandbox.fixture["propertyware"]["buildings"][0]["id"]})
    assert len(rest_sandbox.state.table("propertyware", "workOrders")) == before + 1
    assert [r["operation"] for r in pw_requests(rest_sandbox)].count("POST /workorders") == 1


@pytest.mark.parametrize("kind", ["commit_then_drop", "malformed_success"])
def test_a_close_is_sent_again_when_its_answer_is_lost_or_unreadable(make: Make, rest_sandbox: Sandbox,
                                                                     kind: str) -> None:
    """A close is idempotent: applied, then the connection dropped or a 2xx that is not the work order -
    sending it again is safe and gets the answer."""
    vendor = rest_sandbox.fixture["propertyware"]["vendors"][0]["id"]
    work_order = rest_sandbox.fixture["propertyware"]["workOrders"][0]["id"]
    rest_sandbox.state.faults.add({"server": "pw", "operation": "PUT /workorders/closeworkorder/{workOrderID}",
                              "kind": kind, "rate": 0.5, "seed": 1})
    client = make()
    closed = client.close_work_order(work_order, category="General", closing_comments="done", vendor_id=vendor)
    assert closed["status"] == "Completed" and closed["id"] == work_order
    assert client.stats.retries == 1  # seed 1: the first attempt is applied and spoiled, the second answered


def test_a_create_answered_2xx_with_no_readable_record_is_ambiguous_and_sent_once(make: Make,
                                                                                  rest_sandbox: Sandbox) -> None:
    """Issue 16 item 3 for PW: a proxy's page, a cut body, an empty one, an object without id - each time the
    work order was created, and a resend would create a second."""
    building = rest_sandbox.fixture["propertyware"]["buildings"][0]["id"]
    rest_sandbox.state.faults.add({"server": "pw", "operation": "POST /workorders", "kind": "malformed_success"})
    before = len(rest_sandbox.state.snapshot()["propertyware"]["workOrders"])
    for _ in range(4):
        with pytest.raises(AmbiguousWriteError, match="may have been applied"):
            make().create_work_order({"buildingID": building})
    assert [r["operation"] for r in pw_requests(rest_sandbox)].count("POST /workorders") == 4  # once each, never resent
    assert len(rest_sandbox.state.snapshot()["propertyware"]["workOrders"]) == before + 4


def test_bad_request_refusals_carry_the_field_errors(make: Make) -> None:
    with pytest.raises(PermanentError, match=r"HTTP 400.*buildingID") as refused:
        make().create_work_order({"buildingID": -1})
    assert refused.value.errors and refused.value.errors[0]["key"] == "buildingID"  # type: ignore[attr-defined]


def test_windowed_reads_only_ask_for_what_changed(make: Make, rest_sandbox: Sandbox) -> None:
    client = make()
    newest = max(parse_ts(w["lastModifiedDateTime"]) for w in rest_sandbox.fixture["propertyware"]["workOrders"])
    assert list(client.iter_records("work_orders", modified_from=newest + timedelta(seconds=1))) == []
    assert client.stats.calls == 1
