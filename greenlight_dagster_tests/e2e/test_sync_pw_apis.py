"""The whole sync over PropertyWare's REST API alone, and with both APIs configured (decision 0011).

Each test is two full syncs (about 7 minutes on a loaded 2-core machine), so the run with both
APIs is a reliability scenario; the REST-only run is part of ``make test``.

The SOAP-only cycle is `test_sync_cycle`; these runs start from the same fresh ``small`` world
and must reach the same end (every open, routable work order with exactly one SF job, nothing
created twice), reading PropertyWare through the API the configuration selects. What each API
cannot do is asserted from the sandbox: a status change or close REST cannot make is held back
with its reason, not dropped, and with both APIs it goes through SOAP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.core.statuses import in_open_list
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster_tests.e2e.test_sync_cycle import (
    SF_RATE_LIMIT,
    jobs_by_work_order,
    ledger_states,
    plan_summary,
    run_sync,
    sf_creates,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SOAP_READS = {"getAllPortfolios", "getBuildings", "getUnits", "getLeases", "getContacts", "getVendors",
              "getWorkOrders", "getWorkOrder"}


def start(pw_api: str, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    sandbox = Sandbox(seed=0, scale="small", sf_options={"rate_limit_per_minute": SF_RATE_LIMIT}).start()
    for name in ("GREENLIGHT_PW_WSDL_URL", "GREENLIGHT_PW_USERNAME", "GREENLIGHT_PW_PASSWORD", "GREENLIGHT_PW_REST_URL",
                 "GREENLIGHT_PW_CLIENT_ID", "GREENLIGHT_PW_CLIENT_SECRET", "GREENLIGHT_PW_SYSTEM_ID",
                 "GREENLIGHT_PW_API"):
        monkeypatch.delenv(name, raising=False)
    for name, value in sandbox.env(pw_api).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GREENLIGHT_SF_RATE_LIMIT_PER_MINUTE", str(SF_RATE_LIMIT))
    monkeypatch.setenv("GREENLIGHT_DRY_RUN", "false")
    monkeypatch.setenv("GREENLIGHT_ENABLE_SERVICE_FUSION", "true")
    monkeypatch.setenv("GREENLIGHT_SAFE_MODE_MAX_CREATES", "100000")
    return sandbox


@pytest.fixture
def rest_only(clean_warehouse: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    sandbox = start("rest", monkeypatch)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def both_apis(clean_warehouse: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    sandbox = start("both", monkeypatch)
    yield sandbox
    sandbox.stop()


def pw_operations(requests: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["operation"] for r in requests if r["server"] == "pw")


def expected_work_orders(sandbox: Sandbox) -> set[int]:
    fixture = sandbox.fixture
    planted = fixture["_planted"]
    # the unit rule holds some; dedup holds those SF already has unstamped or under a bare id; a foreign
    # stamp holds its work order for a person (decision 0012)
    left_out = {p["workOrderID"] for kind in ("unit_holds_building_id", "sf_unstamped_duplicate_jobs",
                                              "sf_bare_id_jobs", "foreign_stamps") for p in planted[kind]}
    return {w["id"] for w in fixture["propertyware"]["workOrders"] if in_open_list(w["status"])} - left_out


def raw_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {entity: conn.execute(text(f"select count(distinct source_id) from raw.pw_{entity}")).scalar_one()
                for entity in ("portfolios", "buildings", "units", "leases", "tenants", "vendors", "work_orders")}


def fixture_counts(sandbox: Sandbox) -> dict[str, int]:
    pw = sandbox.fixture["propertyware"]
    return {"portfolios": len(pw["portfolios"]), "buildings": len(pw["buildings"]), "units": len(pw["units"]),
            "leases": len(pw["leases"]), "tenants": sum(c["type"] == "TENANT" for c in pw["contacts"]),
            "vendors": len(pw["vendors"]), "work_orders": len(pw["workOrders"])}


def complete_job(sandbox: Sandbox, jobs: dict[int, list[int]], wo_id: int, *, vendor: bool) -> None:
    """Complete the work order's job in SF (as a technician would), the work order having an assigned
    vendor in PW or (``vendor`` False) none."""
    first_vendor = sandbox.fixture["propertyware"]["vendors"][0]
    vendors = [{"id": first_vendor["id"], "name": first_vendor["name"]}] if vendor else []
    sandbox.state.patch("propertyware", "workOrders", wo_id, {"assignedVendors": vendors})
    sandbox.state.patch("servicefusion", "jobs", jobs[wo_id][0], {"status": "Completed"})


def work_order(sandbox: Sandbox, wo_id: int) -> dict[str, Any]:
    return sandbox.state.get("propertyware", "workOrders", wo_id)


def test_a_rest_only_deployment_syncs_fully(rest_only: Sandbox, clean_warehouse: Engine) -> None:
    sandbox = rest_only
    _, requests = run_sync(sandbox)
    operations = pw_operations(requests)
    assert operations["GET /workorders"] >= 1 and not SOAP_READS & set(operations), operations
    assert raw_counts(clean_warehouse) == fixture_counts(sandbox), "REST reads land every record in raw.pw_*"
    jobs = jobs_by_work_order(sandbox)
    expected = expected_work_orders(sandbox)
    assert {wo: len(jobs.get(wo, [])) for wo in expected} == dict.fromkeys(expected, 1)
    assert all(len(ids) == 1 for ids in jobs.values()), f"duplicates: {jobs}"

    # Two jobs completed: REST can close the work order with a vendor, and must hold the other's close.
    unassigned, assigned = sorted(set(jobs) & expected)[:2]
    complete_job(sandbox, jobs, unassigned, vendor=False)
    complete_job(sandbox, jobs, assigned, vendor=True)
    second, requests = run_sync(sandbox)
    assert sf_creates(requests) == Counter(), "the second sync created something"
    assert pw_operations(requests)["PUT /workorders/closeworkorder/{workOrderID}"] == 1
    assert not in_open_list(work_order(sandbox, assigned)["status"])
    assert in_open_list(work_order(sandbox, unassigned)["status"])
    assert plan_summary(clean_warehouse, second.run_id).get("held.pw_api_unavailable", 0) >= 1
    with clean_warehouse.connect() as conn:
        closes = dict(conn.execute(text("select source_id, state from ops.sync_ledger "
                                        "where operation = 'close_work_order'")).all())
    assert closes.get(str(assigned)) == "done"
    assert str(unassigned) not in closes, "a held write is not in the ledger"
    assert set(ledger_states(clean_warehouse)) <= {"done", "attention"}


@pytest.mark.reliability  # two more full syncs: `make reliability` runs it, `make test` stays within its budget
def test_with_both_apis_reads_use_rest_and_status_changes_use_soap(both_apis: Sandbox,
                                                                   clean_warehouse: Engine) -> None:
    sandbox = both_apis
    _, requests = run_sync(sandbox)
    operations = pw_operations(requests)
    assert operations["GET /workorders"] >= 1 and not {"getWorkOrders", "getBuildings"} & set(operations)
    jobs = jobs_by_work_order(sandbox)
    expected = expected_work_orders(sandbox)
    assert {wo: len(jobs.get(wo, [])) for wo in expected} == dict.fromkeys(expected, 1)

    started, completed = sorted(set(jobs) & expected)[:2]
    sandbox.state.patch("servicefusion", "jobs", jobs[started][0], {"status": "Started"})
    complete_job(sandbox, jobs, completed, vendor=False)
    second, requests = run_sync(sandbox)
    operations = pw_operations(requests)
    assert operations["updateWorkOrder"] == 1 and operations["closeWorkOrder"] == 1, operations
    assert work_order(sandbox, started)["status"] == "In Progress"
    assert not in_open_list(work_order(sandbox, completed)["status"])
    assert "held.pw_api_unavailable" not in plan_summary(clean_warehouse, second.run_id)
    assert sf_creates(requests) == Counter()
