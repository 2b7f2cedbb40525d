"""The outbox in PostgreSQL: idempotent planning, exclusive claims, crash recovery, dead letters."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text

from greenlight_dagster.core.dedup import DuplicateDecision
from greenlight_dagster.core.ledger import (
    ErrorClass,
    Failed,
    LedgerState,
    LookedUp,
    Succeeded,
    requires_lookup,
)
from greenlight_dagster.core.plan import PlannedWrite
from greenlight_dagster.outbox.executor import DEFAULT_ORPHAN_GRACE
from greenlight_dagster.warehouse.ledger_store import LedgerConflictError, LedgerStore
from greenlight_dagster.warehouse.tables import dead_letter, duplicate_detection_log

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
GRACE = DEFAULT_ORPHAN_GRACE
JOBS = ["create_job"]


def job(wo_id: int, description: str = "Kitchen sink leaking") -> PlannedWrite:
    return PlannedWrite.of("sf", "create_job", wo_id, {"po_number": f"PW-{wo_id}", "description": description})


def test_planning_twice_lands_on_one_row(store: LedgerStore) -> None:
    writes = [job(9000), job(9001)]
    assert store.record_plan(writes, now=T0, run_id="r1").as_dict() == {
        "inserted": 2, "replanned": 0, "unchanged": 0, "withdrawn": 0, "superseded": 0}
    assert store.record_plan(writes, now=T0, run_id="r2").as_dict() == {
        "inserted": 0, "replanned": 0, "unchanged": 2, "withdrawn": 0, "superseded": 0}
    assert [e.state for e in store.entries()] == [LedgerState.PLANNED, LedgerState.PLANNED]


def test_changed_create_is_replanned_under_the_same_key(store: LedgerStore) -> None:
    store.record_plan([job(9000)], now=T0)
    result = store.record_plan([job(9000, "Kitchen sink and dishwasher leaking")], now=T0 + timedelta(minutes=1))
    assert (result.inserted, result.replanned) == (0, 1)
    (entry,) = store.entries()
    assert entry.idempotency_key == "sf:create_job:9000"
    assert entry.payload["description"] == "Kitchen sink and dishwasher leaking"


def test_unsent_rows_that_left_the_plan_are_withdrawn_but_sent_ones_stay(store: LedgerStore) -> None:
    store.record_plan([job(9000), job(9001), job(9002)], now=T0)
    with store.worker("r1") as worker:
        claimed = worker.claim_next("sf", JOBS, now=T0)
        assert claimed is not None
        worker.finish(claimed[1], Failed(T0, ErrorClass.RECOVERABLE, "timeout"))
    result = store.record_plan([job(9002)], now=T0)
    assert result.withdrawn == 1
    assert {e.source_id: e.state for e in store.entries()} == {"9000": LedgerState.FAILED, "9002": LedgerState.PLANNED}


def test_attention_writes_are_recorded_not_planned(store: LedgerStore) -> None:
    note = PlannedWrite.of("sf", "attention", 9000, {"reason": "changed after create"})
    store.record_plan([note], now=T0)
    (entry,) = store.entries()
    assert entry.state is LedgerState.ATTENTION
    with store.worker() as worker:
        assert worker.claim_next("sf", ["attention"], now=T0) is None


def test_claim_marks_sending_and_finish_records_the_outcome(store: LedgerStore) -> None:
    store.record_plan([job(9000)], now=T0)
    with store.worker("run-a") as worker:
        claimed = worker.claim_next("sf", JOBS, now=T0)
        assert claimed is not None
        before, sending = claimed
        assert not requires_lookup(before)
        assert (sending.state, sending.attempts, sending.run_id) == (LedgerState.SENDING, 1, "run-a")
        assert worker.claim_next("sf", JOBS, now=T0) is None
        done = worker.finish(sending, Succeeded(T0, "8001"))
    assert store.get(done.id or 0).state is LedgerState.DONE
    assert store.get(done.id or 0).target_id == "8001"
    assert store.count_claimed("run-a", JOBS) == 1


def test_failed_entries_wait_for_their_backoff(store: LedgerStore) -> None:
    store.record_plan([job(9000)], now=T0)
    with store.worker() as worker:
        claimed = worker.claim_next("sf", JOBS, now=T0)
        assert claimed is not None
        failed = worker.finish(claimed[1], Failed(T0, ErrorClass.RECOVERABLE, "reset", retry_after=600))
        assert failed.next_attempt_at is not None and failed.next_attempt_at >= T0 + timedelta(seconds=600)
        assert worker.claim_next("sf", JOBS, now=T0 + timedelta(seconds=10)) is None
        again = worker.claim_next("sf", JOBS, now=T0 + timedelta(hours=2))
        assert again is not None and requires_lookup(again[0])


def test_a_stale_entry_object_cannot_overwrite_another_runs_outcome(store: LedgerStore) -> None:
    store.record_plan([job(9000)], now=T0)
    with store.worker() as worker:
        claimed = worker.claim_next("sf", JOBS, now=T0)
        assert claimed is not None
        worker.finish(claimed[1], Succeeded(T0, "8001"))
        with pytest.raises(LedgerConflictError):
            store.apply(claimed[1], Failed(T0, ErrorClass.RECOVERABLE, "late"))


def test_concurrent_workers_never_claim_the_same_entry(store: LedgerStore) -> None:
    store.record_plan([job(9000 + i) for i in range(40)], now=T0)
    claimed: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    barrier = threading.Barrier(len(claimed))

    def drain(name: str) -> None:
        with store.worker(name) as worker:
            barrier.wait()
            while (got := worker.claim_next("sf", JOBS, now=T0, batch=3)) is not None:
                claimed[name].append(got[1].source_id)
                worker.finish(got[1], Succeeded(T0, f"job-{got[1].source_id}"))

    threads = [threading.Thread(target=drain, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [source for sources in claimed.values() for source in sources]
    assert sorted(everything) == sorted(str(9000 + i) for i in range(40))  # each exactly once
    assert all(e.state is LedgerState.DONE and e.attempts == 1 for e in store.entries())


def test_a_due_row_a_planner_has_locked_is_waited_for_not_taken_as_nothing_due(
        store: LedgerStore, clean_ops: Engine) -> None:
    """A plan compares existing rows under ``FOR UPDATE``; a claim must not read that as "claimed by
    someone else" (two concurrent pushes both stopped with a planned row left unsent)."""
    store.record_plan([job(9000)], now=T0)
    got: list[object] = []
    with clean_ops.connect() as planner:
        transaction = planner.begin()
        planner.execute(text("select id from ops.sync_ledger for update"))
        with store.worker("impatient") as impatient:
            impatient.claim_wait = timedelta(milliseconds=200)
            assert impatient.claim_next("sf", JOBS, now=T0) is None  # the wait is bounded
        waiting = threading.Thread(target=lambda: got.append(_claim_once(store)))
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive(), "the claim must wait for the planner, not report nothing due"
        transaction.commit()
    waiting.join(timeout=10)
    assert got == ["9000"]
    assert store.entries()[0].state is LedgerState.SENDING


def _claim_once(store: LedgerStore) -> str | None:
    with store.worker("patient") as worker:
        claimed = worker.claim_next("sf", JOBS, now=T0)
        return claimed[1].source_id if claimed is not None else None


def test_orphaned_sending_entry_is_recovered_only_when_its_owner_is_gone(store: LedgerStore) -> None:
    store.record_plan([job(9000)], now=T0)
    with store.worker("alive") as owner:
        claimed = owner.claim_next("sf", JOBS, now=T0)
        assert claimed is not None
        with store.worker("other") as other:
            assert list(other.recover_orphans("sf", JOBS, now=T0 + timedelta(hours=2), grace=GRACE)) == []
        # the owner "crashes": its connection closes without recording anything
    assert store.get(claimed[1].id or 0).state is LedgerState.SENDING
    with store.worker("rerun") as rerun:
        within = T0 + GRACE - timedelta(minutes=1)
        assert list(rerun.recover_orphans("sf", JOBS, now=within, grace=GRACE)) == []
        after = T0 + GRACE + timedelta(minutes=1)
        (orphan,) = rerun.recover_orphans("sf", JOBS, now=after, grace=GRACE)
        assert requires_lookup(orphan)
        resolved = rerun.finish(orphan, LookedUp(after, "8001"))
    assert (resolved.state, resolved.target_id) == (LedgerState.DONE, "8001")


def test_orphan_not_found_on_the_target_becomes_due_again_with_a_lookup(store: LedgerStore) -> None:
    store.record_plan([job(9000)], now=T0)
    with store.worker() as owner:
        assert owner.claim_next("sf", JOBS, now=T0) is not None
    with store.worker() as rerun:
        (orphan,) = rerun.recover_orphans("sf", JOBS, now=T0, grace=timedelta(0))
        rerun.finish(orphan, LookedUp(T0, None))
        again = rerun.claim_next("sf", JOBS, now=T0)
    assert again is not None and requires_lookup(again[0]) and again[1].attempts == 2


def test_permanent_failure_files_a_dead_letter_and_replay_goes_back_through_lookup(
        store: LedgerStore, clean_ops: Engine) -> None:
    store.record_plan([job(9000)], now=T0)
    with store.worker() as worker:
        claimed = worker.claim_next("sf", JOBS, now=T0)
        assert claimed is not None
        dead = worker.finish(claimed[1], Failed(T0, ErrorClass.PERMANENT, "422: street_1 is required"),
                             details={"field_errors": [{"field": "street_1", "message": "is required"}]})
    assert dead.state is LedgerState.DEAD
    (letter,) = store.dead_letters()
    assert letter.reason == "422: street_1 is required"
    assert letter.details is not None and letter.details["field_errors"][0]["field"] == "street_1"
    assert letter.entry.idempotency_key == "sf:create_job:9000"

    fixed = {"po_number": "PW-9000", "street_1": "12 Oak St"}
    replayed = store.replay(dead.id or 0, now=T0 + timedelta(hours=1), payload=fixed)
    assert replayed.state is LedgerState.PLANNED and requires_lookup(replayed)
    assert store.dead_letters() == []
    with clean_ops.connect() as conn:
        assert conn.execute(select(dead_letter.c.replayed_at)).scalar_one() is not None
    # a replayed entry is not withdrawn by a plan that no longer lists it: it may have been sent
    assert store.record_plan([], now=T0).withdrawn == 0


def test_resolve_settles_attention(store: LedgerStore) -> None:
    store.record_plan([PlannedWrite.of("pw", "attention", 9000, {"reason": "decide in PW"})], now=T0)
    (entry,) = store.entries()
    settled = store.resolve(entry.id or 0, now=T0, note="closed by hand")
    assert settled.state is LedgerState.DONE


def test_dedup_decisions_are_logged_with_criterion_and_score(store: LedgerStore, clean_ops: Engine) -> None:
    decisions = [("9000", DuplicateDecision(True, "cross_system_id", 1.0, "8000", "stamped")),
                 ("9001", DuplicateDecision(False, "fuzzy", 0.4, "8001", "closest scores 0.40"))]
    assert store.log_decisions(decisions, target="sf", run_id="r1", now=T0) == 2
    with clean_ops.connect() as conn:
        rows = conn.execute(select(duplicate_detection_log.c.source_id, duplicate_detection_log.c.criterion,
                                   duplicate_detection_log.c.score, duplicate_detection_log.c.decision)
                            .order_by(duplicate_detection_log.c.id)).all()
        assert conn.execute(text("select count(*) from ops.duplicate_detection_log where run_id='r1'")).scalar() == 2
    assert [tuple(r) for r in rows] == [("9000", "cross_system_id", 1.0, "duplicate"),
                                        ("9001", "fuzzy", 0.4, "distinct")]
