"""The outbox state machine: transitions, error classes, backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenlight_dagster.core.idempotency import payload_hash
from greenlight_dagster.core.ledger import (
    Claim,
    ErrorClass,
    Failed,
    IllegalTransitionError,
    LedgerEntry,
    LedgerEvent,
    LedgerState,
    LookedUp,
    NeedsAttention,
    Replan,
    Replay,
    Resolve,
    RetryPolicy,
    Succeeded,
    Supersede,
    backoff_at,
    classify_error,
    is_due,
    is_stale,
    next_transition,
    requires_lookup,
    supersedes,
)
from greenlight_dagster.warehouse.tables import sync_ledger

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base=timedelta(seconds=10), cap=timedelta(minutes=5))


def entry(operation: str = "create_job", payload: dict[str, object] | None = None) -> LedgerEntry:
    return LedgerEntry.new("sf", operation, 9000, payload or {"description": "sink"}, now=T0, run_id="r1")


def send(e: LedgerEntry, now: datetime = T0) -> LedgerEntry:
    return next_transition(e, Claim(now, run_id="r2"))


def test_new_entry() -> None:
    e = entry()
    assert e.idempotency_key == "sf:create_job:9000"
    assert e.payload_hash == payload_hash({"description": "sink"})
    assert (e.state, e.attempts, e.created_at, e.run_id) == (LedgerState.PLANNED, 0, T0, "r1")
    attention = LedgerEntry.new("sf", "attention", 9000, {"x": 1}, now=T0, state=LedgerState.ATTENTION)
    assert attention.state is LedgerState.ATTENTION and attention.idempotency_key.startswith("sf:attention:9000:")
    with pytest.raises(ValueError):
        LedgerEntry.new("sf", "create_job", 1, {}, now=T0, state=LedgerState.DONE)


def test_entry_mirrors_the_sync_ledger_table() -> None:
    assert set(entry().as_row()) | {"id"} == {c.name for c in sync_ledger.columns}


def test_row_round_trip() -> None:
    e = send(entry())
    e = next_transition(e, Failed(T0, ErrorClass.RECOVERABLE, "reset"), POLICY, random.Random(1))
    row = {**e.as_row(), "id": 7}
    back = LedgerEntry.from_row(row)
    assert back == LedgerEntry(**{**e.__dict__, "id": 7})


def test_happy_path() -> None:
    e = send(entry())
    assert (e.state, e.attempts, e.run_id) == (LedgerState.SENDING, 1, "r2")
    done = next_transition(e, Succeeded(T0 + timedelta(seconds=1), target_id="8001"))
    assert (done.state, done.target_id, done.updated_at) == (LedgerState.DONE, "8001", T0 + timedelta(seconds=1))


def test_recoverable_failure_backs_off_then_retries() -> None:
    e = send(entry())
    failed = next_transition(e, Failed(T0, ErrorClass.RECOVERABLE, "connection reset"), POLICY, random.Random(0))
    assert failed.state is LedgerState.FAILED and failed.error_class is ErrorClass.RECOVERABLE
    assert failed.last_error == "connection reset"
    assert failed.next_attempt_at is not None
    assert T0 + timedelta(seconds=5) <= failed.next_attempt_at <= T0 + timedelta(seconds=10)
    assert not is_due(failed, T0)
    with pytest.raises(IllegalTransitionError, match="not due"):
        send(failed, T0)
    again = send(failed, failed.next_attempt_at)
    assert again.state is LedgerState.SENDING and again.attempts == 2


def test_retry_after_is_honoured() -> None:
    e = send(entry())
    failed = next_transition(e, Failed(T0, ErrorClass.RECOVERABLE, "429", retry_after=120), POLICY, random.Random(0))
    assert failed.next_attempt_at == T0 + timedelta(seconds=120)


def test_attempts_exhausted_go_dead() -> None:
    e = entry()
    rng = random.Random(3)
    for _ in range(POLICY.max_attempts):
        e = send(e, e.next_attempt_at or T0)
        e = next_transition(e, Failed(e.updated_at or T0, ErrorClass.RECOVERABLE, "timeout"), POLICY, rng)
    assert e.state is LedgerState.DEAD and e.attempts == POLICY.max_attempts and e.next_attempt_at is None


def test_permanent_error_goes_dead_at_once() -> None:
    e = next_transition(send(entry()), Failed(T0, ErrorClass.PERMANENT, '422 [{"field":"customer_name"}]'))
    assert e.state is LedgerState.DEAD and e.error_class is ErrorClass.PERMANENT and "customer_name" in (
        e.last_error or "")


def test_already_done_is_done() -> None:
    e = next_transition(send(entry()), Failed(T0, ErrorClass.ALREADY_DONE, "exists", target_id="8005"))
    assert e.state is LedgerState.DONE and e.target_id == "8005"


def test_long_errors_are_truncated() -> None:
    e = next_transition(send(entry()), Failed(T0, ErrorClass.PERMANENT, "x" * 5000))
    assert e.last_error is not None and len(e.last_error) == 2000


def test_crash_in_sending_resolved_by_lookup() -> None:
    stale = send(entry())
    assert requires_lookup(stale)
    assert is_stale(stale, T0 + timedelta(minutes=10), timedelta(minutes=5))
    assert not is_stale(stale, T0 + timedelta(minutes=1), timedelta(minutes=5))
    found = next_transition(stale, LookedUp(T0, target_id="8001"))
    assert found.state is LedgerState.DONE and found.target_id == "8001"
    absent = next_transition(stale, LookedUp(T0, target_id=None))
    assert absent.state is LedgerState.FAILED and is_due(absent, T0) and absent.error_class is ErrorClass.RECOVERABLE


def test_lookup_on_failed_entry() -> None:
    failed = next_transition(send(entry()), Failed(T0, ErrorClass.RECOVERABLE, "timeout"), POLICY, random.Random(0))
    assert requires_lookup(failed)
    assert next_transition(failed, LookedUp(T0, None)) == failed
    assert next_transition(failed, LookedUp(T0, "8009")).state is LedgerState.DONE


def test_fresh_entries_need_no_lookup() -> None:
    assert not requires_lookup(entry())
    assert not requires_lookup(next_transition(send(entry()), Succeeded(T0, "1")))


def test_replay_dead_letter_with_fixed_payload() -> None:
    dead = next_transition(send(entry()), Failed(T0, ErrorClass.PERMANENT, "422"))
    fixed = {"description": "sink", "customer_name": 7000}
    replayed = next_transition(dead, Replay(T0 + timedelta(hours=1), payload=fixed))
    assert replayed.state is LedgerState.PLANNED and replayed.attempts == 0
    assert replayed.payload == fixed and replayed.payload_hash == payload_hash(fixed)
    assert replayed.idempotency_key == dead.idempotency_key
    assert requires_lookup(replayed), "a replayed write was sent before: look it up first"
    assert next_transition(dead, Replay(T0)).payload == dead.payload


def test_payload_of_hashed_operations_cannot_change() -> None:
    update = LedgerEntry.new("pw", "update_work_order", 9000, {"status": "In Progress"}, now=T0)
    with pytest.raises(IllegalTransitionError, match="part of its key"):
        next_transition(update, Replan(T0, {"status": "Scheduled"}))
    dead = next_transition(send(update), Failed(T0, ErrorClass.PERMANENT, "bad"))
    with pytest.raises(IllegalTransitionError):
        next_transition(dead, Replay(T0, payload={"status": "Scheduled"}))


def test_replan_changes_a_planned_create() -> None:
    e = next_transition(entry(), Replan(T0, {"description": "new"}))
    assert e.state is LedgerState.PLANNED and e.payload == {"description": "new"}
    assert e.idempotency_key == "sf:create_job:9000"


def test_attention_and_resolve() -> None:
    flagged = next_transition(entry(), NeedsAttention(T0, "fuzzy duplicate of job 8001"))
    assert flagged.state is LedgerState.ATTENTION and flagged.last_error == "fuzzy duplicate of job 8001"
    resolved = next_transition(flagged, Resolve(T0, "linked by hand", target_id="8001"))
    assert resolved.state is LedgerState.DONE and resolved.target_id == "8001"
    dead = next_transition(send(entry()), Failed(T0, ErrorClass.PERMANENT, "422"))
    assert next_transition(dead, Resolve(T0, "created by hand")).state is LedgerState.DONE


ALL_EVENTS: list[LedgerEvent] = [
    Claim(T0), Succeeded(T0), Failed(T0, ErrorClass.RECOVERABLE, "x"), LookedUp(T0, None), Replan(T0, {"a": 1}),
    Replay(T0), NeedsAttention(T0, "why"), Resolve(T0, "ok"), Supersede(T0, "pw:update_work_order:9000:newer"),
]
LEGAL = {
    LedgerState.PLANNED: {"Claim", "Replan", "NeedsAttention", "Supersede"},
    LedgerState.SENDING: {"Succeeded", "Failed", "LookedUp"},
    LedgerState.FAILED: {"Claim", "LookedUp", "Replan", "NeedsAttention", "Supersede"},
    LedgerState.DONE: set(),
    LedgerState.DEAD: {"Replay", "Resolve", "Supersede"},
    LedgerState.ATTENTION: {"Resolve"},
    LedgerState.SUPERSEDED: set(),
}


@pytest.mark.parametrize("state", list(LedgerState))
@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: type(e).__name__)
def test_transition_table(state: LedgerState, event: LedgerEvent) -> None:
    operation = "update_work_order" if isinstance(event, Supersede) else "create_job"  # only status writes
    e = LedgerEntry(**{**entry(operation).__dict__, "state": state, "attempts": 1})
    if type(event).__name__ in LEGAL[state]:
        next_transition(e, event, POLICY, random.Random(0))
    else:
        with pytest.raises(IllegalTransitionError, match=state.value):
            next_transition(e, event, POLICY, random.Random(0))


@given(st.lists(st.sampled_from(ALL_EVENTS), max_size=25), st.integers(0, 2**32))
def test_random_event_sequences_never_leave_done(events: list[LedgerEvent], seed: int) -> None:
    """Whatever happens, a done entry stays done and attempts never exceed the policy."""
    e, rng = entry(), random.Random(seed)
    for event in events:
        try:
            e = next_transition(e, event, POLICY, rng)
        except IllegalTransitionError:
            continue
        assert e.attempts <= POLICY.max_attempts
    if e.state is LedgerState.DONE:
        for event in ALL_EVENTS:
            with pytest.raises(IllegalTransitionError):
                next_transition(e, event, POLICY, rng)


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [(None, "connection_reset", ErrorClass.RECOVERABLE), (None, "timeout", ErrorClass.RECOVERABLE),
     (None, "Read Timeout", ErrorClass.RECOVERABLE), (None, "dropped", ErrorClass.RECOVERABLE),
     (500, "", ErrorClass.RECOVERABLE), (503, "http", ErrorClass.RECOVERABLE), (429, "", ErrorClass.RECOVERABLE),
     (408, "", ErrorClass.RECOVERABLE), (422, "validation", ErrorClass.PERMANENT), (422, "", ErrorClass.PERMANENT),
     (400, "", ErrorClass.PERMANENT), (401, "", ErrorClass.PERMANENT), (404, "", ErrorClass.PERMANENT),
     (405, "", ErrorClass.PERMANENT), (409, "", ErrorClass.PERMANENT), (None, "already exists on target",
                                                                         ErrorClass.ALREADY_DONE),
     (422, "already_exists", ErrorClass.ALREADY_DONE), (None, "already_closed", ErrorClass.ALREADY_DONE),
     (500, "soap_client_fault", ErrorClass.PERMANENT), (None, "soap_server_fault", ErrorClass.RECOVERABLE),
     (None, "KeyError", ErrorClass.PERMANENT)],
)
def test_classify_error(status: int | None, kind: str, expected: ErrorClass) -> None:
    assert classify_error(status, kind) is expected


def test_classify_rejects_success_codes() -> None:
    with pytest.raises(ValueError):
        classify_error(201, "")


@given(st.integers(1, 60), st.integers(0, 2**32))
def test_backoff_bounds(attempts: int, seed: int) -> None:
    base, cap = timedelta(seconds=30), timedelta(hours=1)
    at = backoff_at(attempts, T0, base, cap, random.Random(seed))
    ceiling = timedelta(seconds=min(cap.total_seconds(), base.total_seconds() * 2.0 ** (attempts - 1)))
    assert T0 + ceiling / 2 <= at <= T0 + ceiling


def test_backoff_grows_and_caps() -> None:
    class Top(random.Random):
        def random(self) -> float:
            return 1.0

    delays = [backoff_at(n, T0, timedelta(seconds=1), timedelta(seconds=20), Top()) - T0 for n in range(1, 8)]
    assert [d.total_seconds() for d in delays] == [1, 2, 4, 8, 16, 20, 20]
    with pytest.raises(ValueError):
        backoff_at(0, T0, timedelta(seconds=1), timedelta(seconds=2), random.Random())


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base=timedelta(seconds=10), cap=timedelta(seconds=1))


def _status_write(status: str, version: int | None, source_id: int = 9000) -> LedgerEntry:
    payload: dict[str, object] = {"workOrderID": source_id, "status": status}
    if version is not None:
        payload["sfVersion"] = version
    return LedgerEntry.new("pw", "update_work_order", source_id, payload, now=T0)


def test_the_same_status_from_newer_sf_data_is_a_new_write() -> None:
    """Scheduled -> Started -> Scheduled: the third write is not the first one again (decision 0012)."""
    first, again = _status_write("Scheduled", 1), _status_write("Scheduled", 3)
    assert first.idempotency_key != again.idempotency_key
    assert _status_write("Scheduled", 1).idempotency_key == first.idempotency_key


def test_only_newer_sf_data_supersedes_a_status_write() -> None:
    old, new = _status_write("In Progress", 1), _status_write("Scheduled", 2)
    assert supersedes(new, old) and not supersedes(old, new)
    assert supersedes(new, _status_write("In Progress", None))  # planned before versions were recorded
    assert not supersedes(new, _status_write("In Progress", 1, source_id=9001))  # another work order
    note = LedgerEntry.new("pw", "attach_note", 9000, {"workOrderID": 9000, "note": "x"}, now=T0)
    assert not supersedes(new, note)
    with pytest.raises(IllegalTransitionError, match="not superseded"):
        next_transition(note, Supersede(T0, new.idempotency_key))
    superseded = next_transition(old, Supersede(T0, new.idempotency_key))
    assert superseded.state is LedgerState.SUPERSEDED and new.idempotency_key in (superseded.last_error or "")
    assert not is_due(superseded, T0) and not requires_lookup(superseded)
