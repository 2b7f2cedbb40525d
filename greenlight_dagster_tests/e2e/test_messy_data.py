"""Messy data through one real sync: a bad date and stamps that are not ours stop nothing and
push nothing wrong (issue 16, items 1 and 2).

A fresh ``small`` world gets, before its first sync:

* an open work order whose ``startDate`` is ``2026-02-30`` (PostgreSQL refuses it; the build
  used to fail, and no work order got its job);
* an unrelated, completed SF job of another client whose ``po_number`` is an open work order's
  bare id (it used to close that work order in PW and keep it from getting its job);
* an SF job whose ``po_number`` stamp and custom field name two different work orders, and one
  whose ``PW-`` stamp carries another work order number in ``check_number`` (foreign);
* two SF jobs stamped ``PW-<id>`` for one work order (the build used to fail on
  ``at_most_one_job_per_work_order``, stopping every sync).

One sync must succeed; every other open work order gets exactly one job; the bad date's work
order gets its job too (its date is NULL and reported); the bare number's work order gets its
own job and stays open; the conflicting, foreign and doubly claimed work orders are held with
the reason (no job, no PW write). Assertions read the sandbox, except the holds and the
report of bad values, which are what an operator sees.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.core.statuses import in_open_list
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster_tests.e2e.test_sync_cycle import (  # noqa: F401 - fixtures
    jobs_by_work_order,
    live_sandbox,
    run_sync,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]




def test_one_sync_with_messy_records_pushes_the_rest_and_nothing_wrong(
        live_sandbox: Sandbox, clean_warehouse: Engine) -> None:  # noqa: F811 - the fixture imported above
    fixture = live_sandbox.fixture
    planted = fixture["_planted"]
    misrouted = {p["workOrderID"] for p in planted["unit_holds_building_id"]}
    unstamped = {p["workOrderID"] for p in planted["sf_unstamped_duplicate_jobs"]}
    stamped = {p["workOrderID"] for p in planted["sf_stamped_jobs"]}
    # the generator's own messy values: held ones are excluded below, the others must flow like any
    generator_held = {p["workOrderID"] for kind in ("sf_bare_id_jobs", "foreign_stamps") for p in planted[kind]}
    taken = {p["workOrderID"] for entries in planted.values() for p in entries if "workOrderID" in p}
    open_ids = sorted(w["id"] for w in fixture["propertyware"]["workOrders"] if in_open_list(w["status"]))
    free = [wo for wo in open_ids if wo not in taken]
    bad_date, bare, conflict_po, conflict_field, foreign, doubled = free[:6]
    numbers = {w["id"]: w["number"] for w in fixture["propertyware"]["workOrders"]}
    other_jobs = [j["id"] for j in fixture["servicefusion"]["jobs"] if not j.get("po_number")]
    assert len(other_jobs) >= 5, "the world needs unrelated SF jobs to plant on"

    live_sandbox.state.patch("propertyware", "workOrders", bad_date, {"startDate": "2026-02-30"})
    live_sandbox.state.patch("servicefusion", "jobs", other_jobs[0], {"po_number": str(bare), "status": "Completed"})
    live_sandbox.state.patch("servicefusion", "jobs", other_jobs[1], {
        "po_number": f"PW-{conflict_po}",
        "custom_fields": [{"name": "PW Work Order ID", "value": str(conflict_field)}]})
    live_sandbox.state.patch("servicefusion", "jobs", other_jobs[2], {
        "po_number": f"PW-{foreign}", "check_number": str(numbers[foreign] + 77_000)})
    for job_id in other_jobs[3:5]:
        live_sandbox.state.patch("servicefusion", "jobs", job_id, {"po_number": f"PW-{doubled}", "status": "Completed"})

    result, _ = run_sync(live_sandbox)

    jobs = jobs_by_work_order(live_sandbox)
    created = {wo: ids for wo, ids in jobs.items() if any(i not in other_jobs for i in ids)}
    expected = set(open_ids) - misrouted - unstamped - generator_held - {conflict_po, conflict_field, foreign, doubled}
    assert {wo: len(created.get(wo, [])) for wo in expected - stamped} == dict.fromkeys(expected - stamped, 1)
    assert bad_date in created and bare in created
    for held in (conflict_po, conflict_field, foreign, doubled):
        assert [i for i in jobs.get(held, []) if i not in other_jobs] == [], f"work order {held} got a new job"
    work_orders = {w["id"]: w for w in live_sandbox.state.snapshot()["propertyware"]["workOrders"]}
    for untouched in (bare, conflict_po, conflict_field, foreign, doubled):
        assert in_open_list(work_orders[untouched]["status"]), f"{untouched} was closed by a job that is not its own"

    with clean_warehouse.connect() as conn:
        stats: dict[str, Any] = conn.execute(text("select stats from ops.sync_runs where run_id = :id"),
                                             {"id": result.run_id}).scalar_one()
        reported = conn.execute(text("select entity, record_id, field, raw_value from marts.bad_source_values")).all()
        links = {r.work_order_id: r.stamp_problem for r in conn.execute(text(
            "select work_order_id, stamp_problem from marts.map_work_order_job where job_id = any(:ids)"),
            {"ids": other_jobs[:5]})}
    # the job creates of the conflicting and foreign claims and the PW writes of those and of the doubly
    # claimed work order; the generator's foreign stamps add one create and one PW hold each
    foreign_planted = len(planted["foreign_stamps"])
    assert stats["push_plan"]["held.stamp_conflict"] == 7 + 2 * foreign_planted, stats["push_plan"]
    assert ("work_orders", bad_date, "startDate", "2026-02-30") in [tuple(r) for r in reported]
    assert bare not in links, "a bare PO number linked a job"
    assert links[conflict_po].startswith("conflicting stamps") and links[conflict_field].startswith("conflicting")
    assert links[foreign].startswith("foreign stamp: check_number")
    assert links[doubled] is None
