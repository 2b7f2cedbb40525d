"""Faults in the middle of a raw asset run: the token dies, the rate limit bites, the /jobs hang is armed.

The client tests (``clients/test_servicefusion.py``) show each mechanism on one call; these
show that an asset run survives the fault *between its pages* and lands exactly what a
fault-free run lands. ``sf/jobs`` is read two records a page (``per_page=2``, six pages in
the small world) so every fault lands inside a multi-page read. Each test is bounded to a
few seconds: short token lifetimes, a one-second hang, ``Retry-After: 1``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from greenlight_dagster.defs.servicefusion import resources as servicefusion
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.warehouse.tables import RAW_TABLES, watermarks
from greenlight_dagster_tests.databases import empty
from greenlight_dagster_tests.ingestion.fixtures_sandbox import (  # noqa: F401 - fixtures are used by name
    Ingest,
    ingest_fixture,
    metadata,
    modified,
    sandbox_records,
)

pytestmark = pytest.mark.integration

SF_JOBS = ("sf", "jobs")
PER_PAGE = 2
TOKEN_PATH = "/oauth/access_token"


def _paged_sf(**update: Any) -> dict[str, Any]:
    """The shipped SF resource reading ``PER_PAGE`` records a page, with a short error backoff.

    The short backoff matters to the 429 test: only the server's ``Retry-After`` can then add
    up to whole seconds of waiting. Built anew rather than with ``model_copy``: Dagster runs a
    resource from the config it resolved at construction, so a copy's changed fields are ignored.
    """
    shipped = servicefusion.default_resource()
    fields = {name: getattr(shipped, name) for name in type(shipped).model_fields}
    return {"servicefusion": type(shipped)(**{**fields, "per_page": PER_PAGE, "backoff_base_seconds": 0.02,
                                              **update})}


def _job_pages(ingest: Ingest) -> int:
    return -(-len(sandbox_records(ingest.sandbox, *SF_JOBS)) // PER_PAGE)


def _sf_log(ingest: Ingest) -> list[tuple[str, str, int, str]]:
    """The SF request log as (method, operation, status, path), in arrival order."""
    return [(r["method"], r["operation"], r["status"], r["path"]) for r in ingest.requests("sf")]


def _landed(ingest: Ingest, source: str, entity: str) -> list[tuple[Any, ...]]:
    """What a raw table holds, without what differs between two correct runs (run id, version id)."""
    return sorted((r.source_id, r.source_modified_at, r.source_hash, r.is_deleted, r.payload["id"])
                  for r in ingest.rows(source, entity))


def _lands_exactly_the_sandbox_jobs(ingest: Ingest) -> None:
    ids = [r.source_id for r in ingest.rows(*SF_JOBS)]
    assert sorted(ids) == sorted(sandbox_records(ingest.sandbox, *SF_JOBS))  # each exactly once


def _seed_drawing(pattern: list[bool], rate: float) -> int:
    """A fault-rule seed whose first draws fire exactly as ``pattern`` says (True = fault)."""
    for seed in range(100_000):
        rng = random.Random(seed)
        if [rng.random() < rate for _ in pattern] == pattern:
            return seed
    raise AssertionError(f"no seed draws {pattern}")


@pytest.fixture
def own_sandbox(clean_raw: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Ingest]]:
    """Start a small sandbox with SF server options of the test's choosing (stopped afterwards)."""
    started: list[Sandbox] = []

    def start(**sf_options: Any) -> Ingest:
        sandbox = Sandbox(seed=0, scale="small", sf_options=sf_options).start()
        started.append(sandbox)
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        return Ingest(sandbox, clean_raw)

    yield start
    for sandbox in started:
        sandbox.stop()


def test_a_token_expiring_mid_run_is_renewed_between_pages_and_every_job_lands(
        own_sandbox: Callable[..., Ingest]) -> None:
    ingest = own_sandbox(token_ttl_seconds=1)
    assert _job_pages(ingest) >= 6
    # At least 0.2 s a page (latency jitters 0.5-1.5x): the sixth page is asked for after the client's
    # renewal point (0.9 s into the token's life), so the renewal falls between two pages.
    ingest.sandbox.state.faults.add({"server": "sf", "operation": "GET /jobs", "kind": "latency", "ms": 400})

    result = ingest.run([SF_JOBS], resources=_paged_sf())

    assert result.success
    _lands_exactly_the_sandbox_jobs(ingest)
    log = _sf_log(ingest)
    reads = [n for n, (_, op, _, _) in enumerate(log) if op == "/jobs"]
    renewals = [n for n, (_, op, _, _) in enumerate(log) if op == TOKEN_PATH and reads[0] < n < reads[-1]]
    assert renewals, log  # the token was renewed between two pages of the same read
    assert all(status == 200 for _, op, status, _ in log if op == TOKEN_PATH)
    # A page may meet the expiry in flight (401); it is then sent again with the new token.
    assert {log[n][2] for n in reads} <= {200, 401}
    assert {log[n][3] for n in reads if log[n][2] == 200} == {log[n][3] for n in reads}
    assert metadata(result, *SF_JOBS)["records_fetched"] == len(sandbox_records(ingest.sandbox, *SF_JOBS))


def test_a_token_revoked_mid_run_is_refreshed_on_401_and_the_page_is_read_again(
        own_sandbox: Callable[..., Ingest], monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = own_sandbox()
    tokens = ingest.sandbox._server("sf").options["sf"].tokens  # no public handle: the runner hides its servers
    log_request = ingest.sandbox.state.log_request
    served_pages = 0

    def revoke_after_the_second_page(server: str, method: str, operation: str, status: int, path: str = "") -> None:
        """Log as usual; once the second page is answered, expire every token (as SF does after an hour)."""
        nonlocal served_pages
        log_request(server, method, operation, status, path)
        if (server, operation, status) == ("sf", "/jobs", 200):
            served_pages += 1
            if served_pages == 2:
                tokens.revoke_all()

    monkeypatch.setattr(ingest.sandbox.state, "log_request", revoke_after_the_second_page)

    result = ingest.run([SF_JOBS], resources=_paged_sf())

    assert result.success
    _lands_exactly_the_sandbox_jobs(ingest)
    log = _sf_log(ingest)
    pages = _job_pages(ingest)
    assert [(op, status) for _, op, status, _ in log] == [
        (TOKEN_PATH, 200), ("/jobs", 200), ("/jobs", 200), ("/jobs", 401), (TOKEN_PATH, 200),
        *[("/jobs", 200)] * (pages - 2)]
    assert log[3][3] == log[5][3] and "page=3" in log[3][3]  # the refused page, sent again
    assert metadata(result, *SF_JOBS)["api_calls"] == len(log)  # token requests and the refused page count


def test_a_429_burst_mid_run_waits_out_retry_after_and_lands_what_a_fault_free_run_lands(ingest: Ingest) -> None:
    baseline = ingest.run([SF_JOBS], resources=_paged_sf())
    assert baseline.success
    fault_free = _landed(ingest, *SF_JOBS)
    empty(ingest.engine, RAW_TABLES["sf", "jobs"], watermarks)
    burst = 3  # page 3 is refused three times in a row, then served
    pattern = [False, False, *[True] * burst, *[False] * _job_pages(ingest)]
    ingest.sandbox.state.faults.add({"server": "sf", "operation": "GET /jobs", "kind": "rate_limit", "rate": 0.5,
                                     "seed": _seed_drawing(pattern, 0.5)})

    result = ingest.run([SF_JOBS], resources=_paged_sf())

    assert result.success
    assert _landed(ingest, *SF_JOBS) == fault_free
    reads = ingest.requests("sf", "/jobs")[_job_pages(ingest):]  # after the baseline's
    assert [r["status"] for r in reads] == [200, 200, *[429] * burst, *[200] * (_job_pages(ingest) - 2)]
    assert len({r["path"] for r in reads[2:2 + burst + 1]}) == 1  # the same page, asked again
    meta = metadata(result, *SF_JOBS)
    assert meta["rate_limited"] == burst and meta["retries"] == burst
    # Retry-After: 1 per refusal; the 0.02 s backoff could not add up to whole seconds.
    assert burst <= meta["rate_limit_wait_seconds"] < burst + 1.0
    assert meta["new_versions"] == meta["records_fetched"] == len(fault_free)


def test_no_jobs_read_of_any_mode_is_unsorted_so_the_hang_never_triggers(own_sandbox: Callable[..., Ingest]) -> None:
    ingest = own_sandbox(unsorted_jobs="hang", hang_seconds=1.0)  # an unsorted read would fail in seconds
    ingest.sandbox.state.faults.add({"server": "sf", "operation": "GET /jobs", "kind": "error", "rate": 0.3,
                                     "seed": 4})  # retried pages must keep their sort too
    paged = _paged_sf()

    initial = ingest.run([SF_JOBS], resources=paged)
    ingest.sandbox.state.set_clock(advance_seconds=3600)
    newest = max(sandbox_records(ingest.sandbox, *SF_JOBS))
    ingest.sandbox.state.patch("servicefusion", "jobs", newest, {"description": "moved"})
    incremental = ingest.run([SF_JOBS], resources=paged)
    last = max(modified(r, "updated_at") for r in sandbox_records(ingest.sandbox, *SF_JOBS).values()).date()
    backfill = ingest.run([SF_JOBS], resources=paged,
                          partition_range=((last - timedelta(days=30)).isoformat(), last.isoformat()))
    full = ingest.run([SF_JOBS], resources=paged, full_refresh=True)

    assert all(r.success for r in (initial, incremental, backfill, full))
    assert [metadata(r, *SF_JOBS)["mode"] for r in (initial, incremental, backfill, full)] == [
        "initial", "incremental", "backfill", "full"]
    reads = ingest.requests("sf", "/jobs")
    assert ingest.sandbox.state.faults.fired.get("error", 0) > 0
    assert len(reads) > 4 * 2 and any("page=2" in r["path"] for r in reads)
    assert all(re.search(r"[?&]sort=[^&]+", r["path"]) for r in reads), reads
    assert all(r["status"] in (200, 500) for r in ingest.requests("sf"))  # nothing hung up (status 0)
    assert {r.source_id for r in ingest.rows(*SF_JOBS)} == set(sandbox_records(ingest.sandbox, *SF_JOBS))
