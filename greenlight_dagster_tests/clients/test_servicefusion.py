"""The ServiceFusion client against the real sandbox server (HTTP on 127.0.0.1, no mocks).

Assertions are on outcomes: the records yielded, the requests the sandbox received, and what
the sandbox holds after a write.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.resilience import AmbiguousWriteError, RetryableError, RetryPolicy
from greenlight_dagster.clients.servicefusion import ServiceFusionClient, ValidationFailed
from greenlight_dagster.sandbox.httpbase import SandboxHTTPServer
from greenlight_dagster.sandbox.state import SandboxState
from greenlight_dagster_tests.sandbox.test_sf_server import CLIENT_ID, CLIENT_SECRET, running_server, sf_world

JOBS = 120  # three pages of 50


class Sandbox:
    """A running server plus clients built against it."""

    def __init__(self, server: SandboxHTTPServer, state: SandboxState) -> None:
        self.server = server
        self.state = state
        self.clients: list[ServiceFusionClient] = []

    def client(self, **options: Any) -> ServiceFusionClient:
        options = {"retry": RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=2.0), "timeout": 5.0, **options}
        client = ServiceFusionClient(f"{self.server.base_url}/v1", f"{self.server.base_url}/oauth/access_token",
                                     CLIENT_ID, CLIENT_SECRET, **options)
        self.clients.append(client)
        return client

    def log(self, operation: str) -> list[dict[str, Any]]:
        method, template = operation.split(" ", 1)
        return [e for e in self.state.request_log() if (e["method"], e["operation"]) == (method, template)]

    def fault(self, operation: str, kind: str, *, fail_first: int = 0) -> None:
        """A fault that fires on exactly the first ``fail_first`` matching requests (all when 0)."""
        rate, seed = (1.0, 0) if fail_first == 0 else (0.5, _seed_failing_first(fail_first, 0.5))
        self.state.faults.add({"server": "sf", "operation": operation, "kind": kind, "rate": rate, "seed": seed})


def _seed_failing_first(count: int, rate: float) -> int:
    """A seed whose draws are below ``rate`` exactly ``count`` times, then at or above it for a while."""
    for seed in range(10_000):
        rng = random.Random(seed)
        draws = [rng.random() < rate for _ in range(count + 8)]
        if draws == [True] * count + [False] * 8:
            return seed
    raise AssertionError("no seed found")


@pytest.fixture
def make_sandbox() -> Iterator[Any]:
    opened: list[tuple[Any, Sandbox]] = []

    def make(world: dict[str, Any] | None = None, **options: Any) -> Sandbox:
        state = SandboxState(world or sf_world(JOBS))
        context = running_server(state, **{"hang_seconds": 2.0, **options})
        sf_sandbox = Sandbox(context.__enter__(), state)
        opened.append((context, sf_sandbox))
        return sf_sandbox

    yield make
    for context, sf_sandbox in reversed(opened):
        for client in sf_sandbox.clients:
            client.close()
        context.__exit__(None, None, None)


@pytest.fixture
def sf_sandbox(make_sandbox: Any) -> Sandbox:
    return make_sandbox()


def _records(items: Iterator[SourceRecord | RejectedRecord]) -> list[SourceRecord]:
    out = list(items)
    assert all(isinstance(r, SourceRecord) for r in out), out
    return [r for r in out if isinstance(r, SourceRecord)]


# ---- reads ----
def test_full_read_of_jobs_pages_until_the_last_page_and_always_sorts(sf_sandbox: Sandbox) -> None:
    client = sf_sandbox.client()
    records = _records(client.iter_records("jobs"))
    assert sorted(r.source_id for r in records) == list(range(8000, 8000 + JOBS))
    first = next(r for r in records if r.source_id == 8000)
    assert first.entity == "jobs" and first.modified_at == datetime(2025, 12, 1, 10, tzinfo=UTC)
    assert first.payload["po_number"] == "PW-9000" and first.payload["notes"][0]["notes"] == "called ahead"
    requests_made = sf_sandbox.log("GET /jobs")
    assert len(requests_made) == 3  # pageCount is 3: no fourth request for the repeated last page
    assert all("sort=" in e["path"] and "per-page=50" in e["path"] for e in requests_made)
    assert client.stats.calls == 4 and client.stats.bytes_received > 0  # + one token request


def test_incremental_jobs_use_the_updated_date_window(sf_sandbox: Sandbox) -> None:
    records = _records(sf_sandbox.client().iter_records(
        "jobs", modified_from=datetime(2025, 12, 3, 10, tzinfo=UTC), modified_to=datetime(2025, 12, 5, 10, tzinfo=UTC)))
    assert [r.source_id for r in records] == [8004, 8003, 8002]
    window = "filters%5Bupdated_date%5D%5Bgte%5D=2025-12-03T10%3A00%3A00%2B00%3A00"
    assert window in sf_sandbox.log("GET /jobs")[0]["path"]


def test_customers_are_read_newest_first_and_stop_below_modified_from(make_sandbox: Any) -> None:
    world = sf_world(0)
    world["servicefusion"]["customers"] = [
        {"id": 100 + i, "customer_name": f"Customer {i}", "updated_at": f"2025-06-{i + 1:02d}T00:00:00Z"}
        for i in range(10)
    ]
    sf_sandbox = make_sandbox(world)
    records = _records(sf_sandbox.client(per_page=2).iter_records(
        "customers", modified_from=datetime(2025, 6, 8, tzinfo=UTC)))
    assert [r.source_id for r in records] == [109, 108, 107]
    assert len(sf_sandbox.log("GET /customers")) == 2  # five pages exist; the read stopped on the second
    assert "expand=contacts%2Clocations%2Ccustom_fields" in sf_sandbox.log("GET /customers")[0]["path"]


def test_reference_entities(sf_sandbox: Sandbox) -> None:
    client = sf_sandbox.client()
    statuses = _records(client.iter_records("job_statuses"))
    assert statuses[0].source_id == 1 and statuses[0].modified_at is None and statuses[0].payload["code"] == "01_UNS"
    techs = _records(client.iter_records("techs"))
    assert [t.source_id for t in techs] == [1, 2, 3, 4] and techs[0].modified_at is not None
    assert client.list_job_categories()[0]["name"] == "Plumbing"
    assert len(client.list_job_statuses()) == len(statuses)
    assert client.me()["email"]
    with pytest.raises(ValueError, match="unknown ServiceFusion entity"):
        list(client.iter_records("invoices"))


def test_bad_records_are_rejected_and_the_page_continues(make_sandbox: Any) -> None:
    world = sf_world(3)
    jobs = world["servicefusion"]["jobs"]
    jobs[1]["updated_at"] = "last tuesday"
    jobs[2]["id"] = "8002"  # string ids are accepted
    sf_sandbox = make_sandbox(world)
    out = list(sf_sandbox.client().iter_records("jobs"))
    kept = {r.source_id for r in out if isinstance(r, SourceRecord)}
    rejected = [r for r in out if isinstance(r, RejectedRecord)]
    assert kept == {8000, 8002}
    assert len(rejected) == 1 and rejected[0].source_key == "8001"
    assert "updated_at" in rejected[0].reason and "last tuesday" in rejected[0].raw


# ---- resilience ----
def test_reads_retry_through_500s_and_resets(sf_sandbox: Sandbox) -> None:
    sf_sandbox.fault("GET /jobs", "error", fail_first=2)
    sf_sandbox.fault("GET /jobs/{id}", "reset", fail_first=1)
    client = sf_sandbox.client()
    assert len(_records(client.iter_records("jobs"))) == JOBS
    job = client.get_job(8001)
    assert job is not None and job["po_number"] == "PW-9001"
    assert client.stats.retries == 3
    assert [e["status"] for e in sf_sandbox.log("GET /jobs")][:3] == [500, 500, 200]


def test_429_waits_for_retry_after(sf_sandbox: Sandbox) -> None:
    sf_sandbox.fault("GET /techs", "rate_limit", fail_first=1)
    client = sf_sandbox.client()
    assert len(_records(client.iter_records("techs"))) == 4
    assert client.stats.rate_limited == 1 and client.stats.retries == 1
    assert client.stats.wait_seconds >= 1.0  # the server's Retry-After, not the 10 ms backoff


def test_429_without_retry_after_backs_off_exponentially(make_sandbox: Any) -> None:
    sf_sandbox = make_sandbox(retry_after=False)
    sf_sandbox.fault("GET /techs", "rate_limit", fail_first=2)
    client = sf_sandbox.client()
    assert len(_records(client.iter_records("techs"))) == 4
    assert client.stats.rate_limited == 2 and client.stats.wait_seconds < 1.0


def test_token_bucket_follows_the_servers_rate_headers(make_sandbox: Any) -> None:
    sf_sandbox = make_sandbox(world=sf_world(6), rate_limit_per_minute=3, rate_window_seconds=1.0)
    client = sf_sandbox.client(per_page=1, rate_limit_per_minute=600)  # our own budget is far too generous
    assert len(_records(client.iter_records("jobs"))) == 6
    assert client.stats.wait_seconds > 0.5  # waited for the server's window instead of hitting it
    assert all(e["status"] == 200 for e in sf_sandbox.log("GET /jobs"))


def test_a_revoked_token_is_refreshed_once_on_401(sf_sandbox: Sandbox) -> None:
    client = sf_sandbox.client()
    assert client.me()["id"] == 1
    sf_sandbox.server.options["sf"].tokens.revoke_all()
    assert client.me()["id"] == 1
    assert [e["status"] for e in sf_sandbox.log("GET /me")] == [200, 401, 200]
    assert [e["status"] for e in sf_sandbox.log("POST /oauth/access_token")] == [200, 200]


def test_an_expiring_token_is_renewed_before_use(make_sandbox: Any) -> None:
    sf_sandbox = make_sandbox(token_ttl_seconds=1)
    client = sf_sandbox.client()
    client.me()
    time.sleep(1.0)
    client.me()
    assert [e["status"] for e in sf_sandbox.log("GET /me")] == [200, 200]  # renewed ahead of expiry, no 401
    assert [e["status"] for e in sf_sandbox.log("POST /oauth/access_token")] == [200, 200]


# ---- writes ----
def test_find_jobs_by_po_number_returns_exact_matches_only(sf_sandbox: Sandbox) -> None:
    client = sf_sandbox.client()
    client.create_job({"customer_name": 7000, "po_number": "PW-90"})
    found = client.find_jobs_by_po_number("PW-90")  # the filter alone also matches PW-9000...PW-9099
    assert [j["po_number"] for j in found] == ["PW-90"]
    assert found[0]["custom_fields"] == []  # expanded
    assert client.find_jobs_by_po_number("PW-1") == []
    assert client.get_job(424242) is None


def test_create_job_and_customer_return_the_created_view(sf_sandbox: Sandbox) -> None:
    client = sf_sandbox.client()
    customer = client.create_customer({"customer_name": "Birch Co", "contacts": [{"fname": "Al", "lname": "Bo"}]})
    job = client.create_job({"customer_name": customer["id"], "po_number": "PW-1", "status": "Scheduled"})
    assert job["customer_name"] == "Birch Co" and job["number"] and job["id"] in sf_sandbox.state.sf["jobs"]


def test_validation_failure_carries_the_field_list(sf_sandbox: Sandbox) -> None:
    with pytest.raises(ValidationFailed) as caught:
        sf_sandbox.client().create_job({"customer_name": "Nobody Inc", "category": "Magic"})
    assert [e["field"] for e in caught.value.errors] == ["customer_name", "category"]
    assert len(sf_sandbox.log("POST /jobs")) == 1


def test_commit_then_drop_is_ambiguous_and_never_duplicates(sf_sandbox: Sandbox) -> None:
    sf_sandbox.fault("POST /jobs", "commit_then_drop")
    client = sf_sandbox.client()
    with pytest.raises(AmbiguousWriteError):
        client.create_job({"customer_name": 7000, "po_number": "PW-4242"})
    assert len(sf_sandbox.log("POST /jobs")) == 1  # not retried
    assert [j["po_number"] for j in sf_sandbox.state.sf["jobs"].values()].count("PW-4242") == 1
    sf_sandbox.state.faults.clear()
    assert len(client.find_jobs_by_po_number("PW-4242")) == 1  # how the ledger resolves it


def test_a_500_on_create_is_ambiguous(sf_sandbox: Sandbox) -> None:
    sf_sandbox.fault("POST /customers", "error")
    with pytest.raises(AmbiguousWriteError):
        sf_sandbox.client().create_customer({"customer_name": "Pine"})
    assert len(sf_sandbox.log("POST /customers")) == 1


def test_creates_are_retried_when_provably_not_processed(sf_sandbox: Sandbox) -> None:
    sf_sandbox.fault("POST /jobs", "rate_limit", fail_first=1)
    client = sf_sandbox.client()
    job = client.create_job({"customer_name": 7000, "po_number": "PW-31"})
    assert [e["status"] for e in sf_sandbox.log("POST /jobs")] == [429, 201]
    assert [j["po_number"] for j in sf_sandbox.state.sf["jobs"].values()].count("PW-31") == 1 and job["id"]

    with socket.socket() as probe:  # a port nobody listens on: the connect fails, nothing was sent
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    unreachable = ServiceFusionClient(dead, f"{sf_sandbox.server.base_url}/oauth/access_token", CLIENT_ID,
                                      CLIENT_SECRET, retry=RetryPolicy(max_attempts=3, base_delay=0.01), timeout=2.0)
    with pytest.raises(RetryableError) as caught:
        unreachable.create_job({"customer_name": 7000})
    assert not isinstance(caught.value, AmbiguousWriteError) and unreachable.stats.retries == 2
    unreachable.close()


def test_a_malformed_success_is_ambiguous_and_never_resent(sf_sandbox: Sandbox) -> None:
    """HTML, truncated JSON, an empty body, an object without id: each create stored once, never resent."""
    sf_sandbox.fault("POST /jobs", "malformed_success")
    client = sf_sandbox.client()
    for n in range(4):
        with pytest.raises(AmbiguousWriteError, match="not the created record"):
            client.create_job({"customer_name": 7000, "po_number": f"PW-77{n}"})
    assert [e["status"] for e in sf_sandbox.log("POST /jobs")] == [201] * 4  # one POST each: not retried
    stored = [j["po_number"] for j in sf_sandbox.state.sf["jobs"].values()]
    assert all(stored.count(f"PW-77{n}") == 1 for n in range(4))
    assert [len(client.find_jobs_by_po_number(f"PW-77{n}")) for n in range(4)] == [1] * 4  # how the ledger resolves it
