"""The ``replay_dead_letters`` job, launched in-process as an operator launches it from the UI.

A create SF refused (422: unknown category) is a dead letter; once the data is fixed in SF the
job sends it - looked up first, then created once - and a second launch sends nothing.
Assertions read the sandbox's state and request log.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dagster as dg
import pytest

from greenlight_dagster.core.ledger import LedgerState
from greenlight_dagster.defs.automation.jobs import replay_dead_letters_job
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource
from greenlight_dagster.defs.reconcile.resources import SyncFlagsResource
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.warehouse.ledger_store import LedgerStore

from .sandbox_world import (
    CLIENT_ID,
    CLIENT_SECRET,
    CUSTOMER_ID,
    PW_PASSWORD,
    PW_USER,
    SEND_ALL,
    Sandbox,
    job_candidates,
    plan,
    push_jobs,
)

pytestmark = pytest.mark.integration


def resources(configured_world: Sandbox) -> dict[str, Any]:
    """The deployed resources pointed at the sandbox; flags as in production (safe mode on)."""
    return {
        "warehouse": WarehouseResource(),
        "sync_flags": SyncFlagsResource(dry_run=False, enable_service_fusion=True, safe_mode=True,
                                        pw_verify_strict=False),
        "servicefusion": ServiceFusionResource(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                               rate_limit_per_minute=6000, timeout_seconds=5, max_attempts=3,
                                               backoff_base_seconds=0.01),
        "propertyware": PropertyWareResource(username=PW_USER, password=PW_PASSWORD, timeout_seconds=5,
                                             max_attempts=3, backoff_base_seconds=0.01),
    }


def launch(configured_world: Sandbox, **selection: Any) -> dg.ExecuteInProcessResult:
    return replay_dead_letters_job.execute_in_process(
        run_config={"ops": {"replay_selected_dead_letters": {"config": selection}}},
        resources=resources(configured_world), raise_on_error=False)


def refused_job(store: LedgerStore, configured_world: Sandbox) -> int:
    """Work order 9000 planned with a category SF does not know: the push files a 422 dead letter.
    Work order 9001 is planned too but not pushed: a replay must not send it."""
    candidates = job_candidates(configured_world, (9000,))
    plan(store, SEND_ALL, work_orders=[replace(c, sf_category="Astrology") for c in candidates])
    assert push_jobs(store, configured_world).counts["dead_letters"] == 1
    plan(store, SEND_ALL, work_orders=job_candidates(configured_world, (9001,)))
    (letter,) = store.dead_letters()
    assert letter.details is not None and [e["field"] for e in letter.details["field_errors"]] == ["category"]
    assert letter.entry.id is not None
    return letter.entry.id


def created_jobs(configured_world: Sandbox) -> list[dict[str, Any]]:
    return [r for r in configured_world.requests("POST", "/jobs") if r["status"] == 201]


def test_replay_job_sends_the_fixed_dead_letter_once_after_a_lookup(store: LedgerStore,
                                                                     configured_world: Sandbox) -> None:
    ledger_id = refused_job(store, configured_world)
    configured_world.state.upsert("servicefusion", "job_categories", {"id": 99, "name": "Astrology"})  # the fix, in SF

    result = launch(configured_world, ledger_ids=[ledger_id])
    assert result.success
    (job,) = configured_world.jobs_for(9000)
    assert job["category"] == "Astrology" and job["customer_id"] == CUSTOMER_ID
    assert configured_world.jobs_for(9001) == [], "only the replayed entry is sent"
    (post,) = created_jobs(configured_world)
    lookups = [r for r in configured_world.requests("GET", "/jobs") if r["seq"] < post["seq"]]
    assert lookups, "the replay looks the job up on SF before it creates it"
    entry = store.get(ledger_id)
    assert (entry.state, entry.target_id) == (LedgerState.DONE, str(job["id"]))
    assert store.dead_letters() == []
    assert result.output_for_node("send_replayed_sf")["created"] == 1

    posts = len(configured_world.requests("POST", "/jobs"))
    again = launch(configured_world, ledger_ids=[ledger_id])
    assert not again.success, "an id that is no longer a dead letter is refused, as by the CLI"
    every = launch(configured_world, all_dead_letters=True)
    assert every.success and every.output_for_node("replay_selected_dead_letters") == []
    assert len(configured_world.requests("POST", "/jobs")) == posts
    assert len(configured_world.jobs_for(9000)) == 1
    assert store.get(ledger_id).state is LedgerState.DONE


def test_replay_job_finds_a_job_someone_created_by_hand_and_sends_nothing(
        store: LedgerStore, configured_world: Sandbox) -> None:
    ledger_id = refused_job(store, configured_world)
    posts = len(configured_world.requests("POST", "/jobs"))
    by_hand = configured_world.state.upsert("servicefusion", "jobs", {  # the office fixed it in SF themselves
        "id": 8900, "number": "8900", "customer_id": CUSTOMER_ID, "customer_name": "Oak Holdings",
        "status": "Unscheduled", "category": "Plumbing", "po_number": "PW-9000",
        "created_at": "2026-01-05T12:00:00Z", "updated_at": "2026-01-05T12:00:00Z"})

    result = launch(configured_world, all_dead_letters=True, target="sf")
    assert result.success
    assert len(configured_world.requests("POST", "/jobs")) == posts
    assert [j["id"] for j in configured_world.jobs_for(9000)] == [by_hand["id"]]
    assert (store.get(ledger_id).state, store.get(ledger_id).target_id) == (LedgerState.DONE, "8900")
    assert result.output_for_node("send_replayed_sf")["found_by_lookup"] == 1
