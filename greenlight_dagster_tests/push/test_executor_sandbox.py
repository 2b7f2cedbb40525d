"""Exactly-once pushes against the sandbox servers and the real warehouse.

Assertions read the sandbox: the jobs stamped with each work order in its state, and the
requests in its log. The invariant under test: at most one SF job per PW work order, ever.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from greenlight_dagster.core.ledger import LedgerState, requires_lookup
from greenlight_dagster.core.plan import CustomerCandidate, build_push_plan, reverify_work_order
from greenlight_dagster.outbox.executor import ExecuteOptions, execute
from greenlight_dagster.outbox.gateways import ServiceFusionGateway
from greenlight_dagster.warehouse.ledger_store import LedgerStore

from .sandbox_world import (
    SEND_ALL,
    WORK_ORDER_IDS,
    Sandbox,
    job_candidates,
    later,
    plan,
    progress_candidates,
    push_jobs,
    push_pw,
)

pytestmark = pytest.mark.integration



def assert_one_job_each(push_world: Sandbox, wo_ids: tuple[int, ...] = WORK_ORDER_IDS) -> None:
    assert {wo_id: len(push_world.jobs_for(wo_id)) for wo_id in wo_ids} == dict.fromkeys(wo_ids, 1)


def test_a_run_creates_one_job_per_work_order_and_a_rerun_sends_nothing(store: LedgerStore,
                                                                         push_world: Sandbox) -> None:
    plan(store, SEND_ALL, work_orders=job_candidates(push_world))
    report = push_jobs(store, push_world)
    assert report.counts["created"] == len(WORK_ORDER_IDS)
    assert_one_job_each(push_world)
    assert all(e.state is LedgerState.DONE and e.target_id for e in store.entries())

    plan(store, SEND_ALL, work_orders=job_candidates(push_world))  # same candidates again: held as already done
    again = push_jobs(store, push_world)
    assert again.counts["claimed"] == 0
    assert len(push_world.requests("POST", "/jobs")) == len(WORK_ORDER_IDS)
    assert_one_job_each(push_world)


def test_commit_then_drop_is_found_by_lookup_not_sent_again(store: LedgerStore, push_world: Sandbox) -> None:
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, (9000,)))
    push_world.state.faults.add({"server": "sf", "operation": "POST /jobs", "kind": "commit_then_drop", "rate": 1.0})
    first = push_jobs(store, push_world)
    assert first.counts["failed"] == 1  # ambiguous: recorded as recoverable, not retried blindly
    (entry,) = store.entries()
    assert entry.state is LedgerState.FAILED and requires_lookup(entry)
    push_world.state.faults.clear()

    second = push_jobs(store, push_world, at=later())
    assert second.counts["found_by_lookup"] == 1 and second.counts["sent"] == 0
    assert_one_job_each(push_world, (9000,))
    assert len(push_world.requests("POST", "/jobs")) == 1
    assert store.entries()[0].target_id == str(push_world.jobs_for(9000)[0]["id"])


def test_timeout_then_retry_creates_one_job(store: LedgerStore, push_world: Sandbox) -> None:
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, (9001,)))
    push_world.state.faults.add({"server": "sf", "operation": "POST /jobs", "kind": "hang", "rate": 1.0, "ms": 1500})
    first = push_jobs(store, push_world, timeout=0.5)
    assert first.counts["failed"] == 1
    push_world.state.faults.clear()
    second = push_jobs(store, push_world, at=later())
    assert second.counts["sent"] + second.counts["found_by_lookup"] == 1
    assert_one_job_each(push_world, (9001,))


def test_crash_before_the_send_is_recovered_by_lookup_then_sent_once(store: LedgerStore, push_world: Sandbox) -> None:
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, (9002,)))
    with store.worker("crashed-run") as worker:  # claimed, then the process "dies" before sending
        assert worker.claim_next("sf", ["create_job"], now=datetime.now(UTC)) is not None
    assert store.entries()[0].state is LedgerState.SENDING

    report = push_jobs(store, push_world)
    assert report.counts["orphans_recovered"] == 1
    assert_one_job_each(push_world, (9002,))
    assert len(push_world.requests("POST", "/jobs")) == 1


def test_crash_after_the_send_is_found_by_lookup(store: LedgerStore, push_world: Sandbox) -> None:
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, (9003,)))
    with store.worker("crashed-run") as worker:  # sent, then the process "dies" before recording
        claimed = worker.claim_next("sf", ["create_job"], now=datetime.now(UTC))
        assert claimed is not None
        push_world.sf_client().create_job(dict(claimed[1].payload))

    report = push_jobs(store, push_world)
    assert (report.counts["orphans_recovered"], report.counts["found_by_lookup"], report.counts["sent"]) == (1, 1, 0)
    assert_one_job_each(push_world, (9003,))
    assert len(push_world.requests("POST", "/jobs")) == 1


def test_a_live_run_is_not_mistaken_for_a_crashed_one(store: LedgerStore, push_world: Sandbox) -> None:
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, (9004,)))
    with store.worker("live-run") as worker:
        assert worker.claim_next("sf", ["create_job"], now=datetime.now(UTC)) is not None
        report = push_jobs(store, push_world)  # another run meanwhile: must leave the entry alone
        assert report.counts["orphans_recovered"] == 0 and report.counts["claimed"] == 0
    assert push_world.requests("POST", "/jobs") == []


def test_concurrent_pushes_create_one_job_per_work_order(store: LedgerStore, push_world: Sandbox) -> None:
    plan(store, SEND_ALL, work_orders=job_candidates(push_world))
    barrier = threading.Barrier(2)
    reports = []

    def run(name: str) -> None:
        barrier.wait()
        reports.append(push_jobs(LedgerStore(store.engine), push_world, run_id=name))

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.counts["created"] for r in reports) == len(WORK_ORDER_IDS)
    assert_one_job_each(push_world)
    assert len(push_world.requests("POST", "/jobs")) == len(WORK_ORDER_IDS)


def test_dry_run_plans_everything_and_sends_nothing(store: LedgerStore, push_world: Sandbox) -> None:
    dry = replace(SEND_ALL, dry_run=True)
    preview = plan(store, dry, work_orders=job_candidates(push_world))
    report = push_jobs(store, push_world, dry)
    assert report.skipped_reason == "dry_run" and report.counts["due_not_sent"] == len(WORK_ORDER_IDS)
    assert [r for r in push_world.state.request_log() if r["method"] == "POST"] == []
    assert {e.state for e in store.entries()} == {LedgerState.PLANNED}

    real = plan(store, SEND_ALL, work_orders=job_candidates(push_world))  # the real run does what the preview said
    assert [w.idempotency_key for w in real.writes] == [w.idempotency_key for w in preview.writes]
    push_jobs(store, push_world)
    assert_one_job_each(push_world)


def test_service_fusion_disabled_sends_nothing_to_it(store: LedgerStore, push_world: Sandbox) -> None:
    flags = replace(SEND_ALL, enable_service_fusion=False)
    plan(store, flags, work_orders=job_candidates(push_world))
    report = push_jobs(store, push_world, flags)
    assert report.skipped_reason == "sending to sf is disabled"
    assert [r for r in push_world.state.request_log() if r["server"] == "sf"] == []


def test_safe_mode_cap_limits_creates_per_run(store: LedgerStore, push_world: Sandbox) -> None:
    flags = replace(SEND_ALL, safe_mode=True, safe_mode_max_creates=2)
    plan(store, SEND_ALL, work_orders=job_candidates(push_world))  # e.g. planned earlier without the cap
    report = push_jobs(store, push_world, flags, options=ExecuteOptions(max_claims=flags.safe_mode_max_creates,
                                                                     orphan_grace=timedelta(0)))
    assert report.counts["created"] == 2 and report.counts["due_not_sent"] == 3
    assert len(push_world.requests("POST", "/jobs")) == 2
    created = [wo for wo in WORK_ORDER_IDS if push_world.jobs_for(wo)]
    assert created == [9000, 9001]  # oldest first


def test_validation_error_goes_to_dead_letters_and_replay_after_the_fix_succeeds_once(
        store: LedgerStore, push_world: Sandbox) -> None:
    candidates = [replace(c, sf_category="Astrology") for c in job_candidates(push_world, (9000,))]
    plan(store, SEND_ALL, work_orders=candidates)
    report = push_jobs(store, push_world)
    assert report.counts["dead_letters"] == 1
    (letter,) = store.dead_letters()
    assert letter.details is not None
    assert [e["field"] for e in letter.details["field_errors"]] == ["category"]
    assert push_world.jobs_for(9000) == []

    fixed = {k: v for k, v in letter.entry.payload.items() if k != "category"}
    store.replay(letter.entry.id or 0, now=datetime.now(UTC), payload=fixed)
    replayed = push_jobs(store, push_world)
    assert replayed.counts["created"] == 1
    assert_one_job_each(push_world, (9000,))
    assert store.dead_letters() == []
    assert len(push_world.requests("GET", "/jobs")) >= 1  # the replay looked the job up before sending


def test_strict_verification_stops_a_work_order_closed_just_before_the_push(
        store: LedgerStore, push_world: Sandbox) -> None:
    strict = replace(SEND_ALL, pw_verify_strict=True)
    candidates = {c.work_order["id"]: c for c in job_candidates(push_world, (9000, 9001))}
    plan(store, strict, work_orders=list(candidates.values()))
    push_world.state.patch("propertyware", "workOrders", 9001, {"status": "Completed"})
    pw = push_world.pw_client()
    gateway = ServiceFusionGateway(push_world.sf_client(), verifier=lambda wo_id: reverify_work_order(
        pw.get_work_order(wo_id), candidates[wo_id].work_order, strict))
    report = execute(store, gateway, strict, ("create_job",), run_id="strict")
    assert report.counts["created"] == 1 and report.counts["verification_failed"] == 1
    assert push_world.jobs_for(9001) == [] and len(push_world.jobs_for(9000)) == 1
    (letter,) = store.dead_letters()
    assert "strict verification" in letter.reason and "Completed" in letter.reason


def test_sf_job_completion_reaches_pw_exactly_once_and_survives_a_pw_fault(
        store: LedgerStore, push_world: Sandbox) -> None:
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, (9000, 9001)))
    push_jobs(store, push_world)
    started, completed = push_world.jobs_for(9000)[0], push_world.jobs_for(9001)[0]
    push_world.state.patch("servicefusion", "jobs", started["id"], {"status": "Started"})
    push_world.state.patch("servicefusion", "jobs", completed["id"], {"status": "Completed",
                                                                    "completion_notes": "Replaced trap"})
    progress = plan(store, SEND_ALL, progress=progress_candidates(push_world))
    assert sorted(w.operation for w in progress.writes) == ["close_work_order", "update_work_order"]

    push_world.state.faults.add({"server": "pw", "operation": "closeWorkOrder", "kind": "commit_then_drop",
                              "rate": 1.0})
    first = push_pw(store, push_world)
    assert first.counts["sent"] == 1 and first.counts["failed"] == 1
    push_world.state.faults.clear()
    # the PW client itself retries a close (idempotent on PW); what matters is that no later run sends again
    sent_by_first_run = {op: len(push_world.pw_requests(op)) for op in ("closeWorkOrder", "updateWorkOrder")}
    assert sent_by_first_run["updateWorkOrder"] == 1
    second = push_pw(store, push_world, at=later())
    assert second.counts["found_by_lookup"] == 1 and second.counts["sent"] == 0
    assert push_world.work_order(9001)["status"] == "Completed"
    assert push_world.work_order(9000)["status"] != "Open"

    plan(store, SEND_ALL, progress=progress_candidates(push_world))  # nothing new to say
    push_pw(store, push_world, at=later(4))
    assert {op: len(push_world.pw_requests(op)) for op in ("closeWorkOrder", "updateWorkOrder")} == sent_by_first_run


def test_customer_create_lost_in_transit_is_found_by_its_pw_stamp(store: LedgerStore, push_world: Sandbox) -> None:
    portfolio = {"id": 2, "name": "Birch Estates", "abbreviation": "BIR", "active": True}
    push_plan = build_push_plan(SEND_ALL, customers=[CustomerCandidate("portfolio", portfolio)])
    store.record_plan(push_plan.writes, now=datetime.now(UTC))
    push_world.state.faults.add({"server": "sf", "operation": "POST /customers", "kind": "commit_then_drop",
                              "rate": 1.0})
    assert push_jobs(store, push_world).counts["failed"] == 1
    push_world.state.faults.clear()
    again = push_jobs(store, push_world, at=later())
    assert again.counts["found_by_lookup"] == 1
    customers = push_world.state.snapshot()["servicefusion"]["customers"]
    named = [c for c in customers if c["customer_name"] == "Birch Estates"]
    assert len(named) == 1 and store.entries()[0].target_id == str(named[0]["id"])


def test_technician_notes_are_attached_once_even_when_the_answer_is_lost(store: LedgerStore,
                                                                         push_world: Sandbox) -> None:
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, (9002,)))
    push_jobs(store, push_world)
    job = push_world.jobs_for(9002)[0]
    push_world.state.patch("servicefusion", "jobs", job["id"], {"tech_notes": "Trap replaced, leak fixed"})
    progress = plan(store, SEND_ALL, progress=progress_candidates(push_world))
    assert [w.operation for w in progress.writes] == ["attach_note"]
    push_world.state.faults.add({"server": "pw", "operation": "attachNoteToWorkOrder", "kind": "commit_then_drop",
                              "rate": 1.0})
    push_pw(store, push_world)
    push_world.state.faults.clear()
    push_pw(store, push_world, at=later())
    push_pw(store, push_world, at=later(4))
    notes = [n["note"] for n in push_world.work_order(9002).get("notes", [])]
    assert len([n for n in notes if "Trap replaced" in n]) == 1
    assert store.entries(target="pw")[0].state is LedgerState.DONE


def test_malformed_success_answers_create_each_job_and_customer_once(store: LedgerStore, push_world: Sandbox) -> None:
    """A 2xx whose body is HTML, truncated, empty or has no id: ambiguous, looked up, never sent again."""
    portfolio = {"id": 3, "name": "Cedar Court", "abbreviation": "CED", "active": True}
    wo_ids = (9000, 9001)  # with the customer, fewer failures than open the circuit breaker
    push_plan = build_push_plan(SEND_ALL, ledger=store.ledger_for_plan({str(i) for i in wo_ids}),
                                work_orders=job_candidates(push_world, wo_ids),
                                customers=[CustomerCandidate("portfolio", portfolio)])
    store.record_plan(push_plan.writes, now=datetime.now(UTC), run_id="plan")
    for operation in ("POST /jobs", "POST /customers"):
        push_world.state.faults.add({"server": "sf", "operation": operation, "kind": "malformed_success", "rate": 1.0})
    first = push_jobs(store, push_world)
    assert first.counts["failed"] == len(wo_ids) + 1 and first.counts["sent"] == 0
    assert all(requires_lookup(entry) for entry in store.entries())

    second = push_jobs(store, push_world, at=later())  # the fault still on: lookups find every record
    assert second.counts["found_by_lookup"] == len(wo_ids) + 1 and second.counts["sent"] == 0
    assert_one_job_each(push_world, wo_ids)
    assert len(push_world.requests("POST", "/jobs")) == len(wo_ids)
    customers = push_world.state.snapshot()["servicefusion"]["customers"]
    named = [c for c in customers if c["customer_name"] == "Cedar Court"]
    assert len(named) == 1 and len(push_world.requests("POST", "/customers")) == 1
    assert all(e.state is LedgerState.DONE and e.target_id for e in store.entries())


def test_malformed_success_answers_from_pw_end_in_each_write_once_never_a_dead_letter(
        store: LedgerStore, push_world: Sandbox) -> None:
    """PW applied the update, the close and the note, and answered 200 with a proxy's page, a cut envelope,
    nothing, or an empty Body: recoverable, and settled by the next push's lookup, each write once."""
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, (9000, 9001, 9002)))
    push_jobs(store, push_world)
    started, completed, noted = (push_world.jobs_for(i)[0] for i in (9000, 9001, 9002))
    push_world.state.patch("servicefusion", "jobs", started["id"], {"status": "Started"})
    push_world.state.patch("servicefusion", "jobs", completed["id"], {"status": "Completed"})
    push_world.state.patch("servicefusion", "jobs", noted["id"], {"tech_notes": "Seal replaced"})
    progress = plan(store, SEND_ALL, progress=progress_candidates(push_world))
    assert sorted(w.operation for w in progress.writes) == ["attach_note", "close_work_order", "update_work_order"]
    for operation in ("updateWorkOrder", "closeWorkOrder", "attachNoteToWorkOrder"):
        push_world.state.faults.add({"server": "pw", "operation": operation, "kind": "malformed_success"})

    first = push_pw(store, push_world)
    assert first.counts["sent"] == 0 and store.dead_letters() == []
    second = push_pw(store, push_world, at=later())  # the fault still on: what PW holds settles each write
    # the first push's failures opened the breaker before the note was tried; the second sends it (a malformed
    # answer again, then found on the work order) and finds the other two
    assert second.counts["found_by_lookup"] == 2 and store.dead_letters() == []
    assert len(push_world.pw_requests("attachNoteToWorkOrder")) == 1
    assert all(entry.state is LedgerState.DONE for entry in store.entries(target="pw"))
    assert push_world.work_order(9000)["status"] == "In Progress"
    assert push_world.work_order(9001)["status"] == "Completed"
    assert [n["note"] for n in push_world.work_order(9002).get("notes", [])].count(
        f"ServiceFusion job {noted['number']} technician notes: Seal replaced") == 1
    sent = len(push_world.state.request_log())
    plan(store, SEND_ALL, progress=progress_candidates(push_world))
    push_pw(store, push_world, at=later(4))
    assert not [r for r in push_world.state.request_log(since=sent) if r["operation"] in (
        "updateWorkOrder", "closeWorkOrder", "attachNoteToWorkOrder")], "a settled write is never sent again"


def test_a_note_with_control_characters_is_attached_once_cleaned_not_dead_lettered(
        store: LedgerStore, push_world: Sandbox) -> None:
    """A technician pasted a terminal escape and a NUL: PW's XML cannot carry them, so the raw text would fail on
    every attempt and every replay. Cleaned where the payload is built, it lands once, and the lookup after a
    lost answer finds exactly that text."""
    plan(store, SEND_ALL, work_orders=job_candidates(push_world, (9003,)))
    push_jobs(store, push_world)
    job = push_world.jobs_for(9003)[0]
    push_world.state.patch("servicefusion", "jobs", job["id"],
                           {"tech_notes": "Valve\x1b[0m swapped\x00\r\nall dry\x07"})
    plan(store, SEND_ALL, progress=progress_candidates(push_world))
    push_world.state.faults.add({"server": "pw", "operation": "attachNoteToWorkOrder", "kind": "commit_then_drop",
                              "rate": 1.0})
    push_pw(store, push_world)
    push_world.state.faults.clear()
    push_pw(store, push_world, at=later())
    notes = [n["note"] for n in push_world.work_order(9003).get("notes", []) if "Valve" in n["note"]]
    assert notes == [f"ServiceFusion job {job['number']} technician notes: Valve[0m swapped\nall dry"]
    (entry,) = store.entries(target="pw")
    assert entry.state is LedgerState.DONE and len(push_world.pw_requests("attachNoteToWorkOrder")) == 1
