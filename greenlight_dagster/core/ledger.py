"""The outbox (``ops.sync_ledger``) state machine, as pure functions over immutable entries.

Each intended write is a `LedgerEntry` that only moves through `next_transition`::

    planned --Claim--> sending --Succeeded--> done
                          |--Failed(recoverable)--> failed --Claim (when due)--> sending ...
                          |--Failed(permanent) or attempts exhausted--> dead --Replay--> planned
                          |--Failed(already_done)--> done
                          '--LookedUp (after a crash)--> done | failed
    planned | failed --NeedsAttention--> attention --Resolve--> done      (dead --Resolve--> done)
    planned | failed --Replan--> same state, new payload (create-once operations only)
    planned | failed | dead --Supersede--> superseded          (latest-wins operations only)

Anything else raises `IllegalTransitionError`, so a bug in the push can never, say, resend a
``done`` write. The crash rule: an entry that was ever sent (``attempts > 0``) is looked up on
the target before it is sent again (`requires_lookup`), because "sent but not recorded" and
"never arrived" look the same from our side. A replayed dead letter keeps its error class for
the same reason, so it is looked up too.

**Latest wins** (`LATEST_WINS_OPERATIONS`, decision 0012): a PW work order's status writes
(update, close) come from one SF job state each, whose raw version (``sfVersion``) is in the
payload and therefore in the key. The same SF state planned again is the same row; a newer one
is a new row, even when it asks for a status written before (Scheduled -> Started -> Scheduled).
A pending or dead status write that a newer one `supersedes` must never reach PW after it, so it
becomes ``superseded`` (never sent, never replayed).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from greenlight_dagster.core.idempotency import CREATE_ONCE_OPERATIONS, idempotency_key, payload_hash

MAX_ERROR_LENGTH = 2000
#: PW writes that set the work order's status: only the one from the newest SF data may be sent.
LATEST_WINS_OPERATIONS = frozenset({"update_work_order", "close_work_order"})
#: Payload field of a latest-wins write: the raw version of the SF job state it comes from.
SF_VERSION_FIELD = "sfVersion"


class LedgerState(StrEnum):
    PLANNED = "planned"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    DEAD = "dead"
    ATTENTION = "attention"
    SUPERSEDED = "superseded"


class ErrorClass(StrEnum):
    RECOVERABLE = "recoverable"
    PERMANENT = "permanent"
    ALREADY_DONE = "already_done"


class IllegalTransitionError(ValueError):
    """An event that the entry's state does not allow; always a bug in the caller."""


#: Error kinds (set by the clients) that mean "the record is already on the target".
ALREADY_DONE_KINDS = frozenset({"already_exists", "already_done", "duplicate", "already_closed"})
#: Kinds that retrying cannot fix, whatever the status code says.
PERMANENT_KINDS = frozenset({"validation", "bad_request", "auth", "forbidden", "not_found", "soap_client_fault"})
#: Transport-level kinds with no HTTP status: the request may or may not have arrived.
RECOVERABLE_KINDS = frozenset({
    "connection_reset", "connection_error", "dropped", "timeout", "read_timeout", "connect_timeout",
    "rate_limited", "server_error", "soap_server_fault", "circuit_open",
})


def _kind_key(kind: str) -> str:
    return kind.strip().lower().replace(" ", "_").replace("-", "_")


def classify_error(status_code: int | None, kind: str) -> ErrorClass:
    """Recoverable (resets, timeouts, 408/429/5xx), permanent (other 4xx incl. 422) or already done.

    The kind decides first when it is specific (``already_exists``, ``validation``); then the
    status code; then transport kinds. An unknown kind with no status is permanent: it is
    most likely a bug, and a dead letter shows it to a person instead of retrying it for hours.
    """
    key = _kind_key(kind)
    if key in ALREADY_DONE_KINDS or "already_exists" in key:
        return ErrorClass.ALREADY_DONE
    if key in PERMANENT_KINDS:
        return ErrorClass.PERMANENT
    if status_code is not None:
        if status_code < 400:
            raise ValueError(f"status {status_code} is not an error")
        if status_code in (408, 429) or status_code >= 500:
            return ErrorClass.RECOVERABLE
        return ErrorClass.PERMANENT
    return ErrorClass.RECOVERABLE if key in RECOVERABLE_KINDS else ErrorClass.PERMANENT


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts before a recoverable failure goes dead, and the backoff between attempts."""

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("backoff needs 0 < base <= cap")


DEFAULT_RETRY_POLICY = RetryPolicy()


def backoff_at(
    attempts: int, now: datetime, base: timedelta, cap: timedelta, rng: random.Random
) -> datetime:
    """When attempt ``attempts + 1`` may run: exponential backoff with equal jitter.

    The ceiling doubles per attempt up to ``cap``; the delay is drawn from [ceiling/2, ceiling],
    so retries of many entries spread out (jitter) yet never come back immediately.
    """
    if attempts < 1:
        raise ValueError("backoff is computed after at least one attempt")
    ceiling = base
    for _ in range(attempts - 1):
        if ceiling >= cap:
            break
        ceiling *= 2
    ceiling = min(ceiling, cap)
    return now + ceiling / 2 + ceiling / 2 * rng.random()


@dataclass(frozen=True)
class LedgerEntry:
    """One row of ``ops.sync_ledger`` (same column names)."""

    idempotency_key: str
    target: str
    operation: str
    source_id: str
    payload: Mapping[str, Any]
    payload_hash: str
    state: LedgerState = LedgerState.PLANNED
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    error_class: ErrorClass | None = None
    target_id: str | None = None
    run_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    id: int | None = None

    @classmethod
    def new(
        cls,
        target: str,
        operation: str,
        source_id: int | str,
        payload: Mapping[str, Any],
        *,
        now: datetime,
        run_id: str | None = None,
        state: LedgerState = LedgerState.PLANNED,
    ) -> LedgerEntry:
        """A fresh entry (``planned``, or ``attention`` for manual follow-up items)."""
        if state not in (LedgerState.PLANNED, LedgerState.ATTENTION):
            raise ValueError(f"a new ledger entry starts planned or attention, not {state}")
        return cls(
            idempotency_key=idempotency_key(target, operation, source_id, payload),
            target=target, operation=operation, source_id=str(source_id), payload=dict(payload),
            payload_hash=payload_hash(payload), state=state, run_id=run_id, created_at=now, updated_at=now,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> LedgerEntry:
        error_class = row.get("error_class")
        return cls(
            idempotency_key=row["idempotency_key"], target=row["target"], operation=row["operation"],
            source_id=str(row["source_id"]), payload=row["payload"], payload_hash=row["payload_hash"],
            state=LedgerState(row["state"]), attempts=int(row.get("attempts") or 0),
            next_attempt_at=row.get("next_attempt_at"), last_error=row.get("last_error"),
            error_class=ErrorClass(error_class) if error_class else None, target_id=row.get("target_id"),
            run_id=row.get("run_id"), created_at=row.get("created_at"), updated_at=row.get("updated_at"),
            id=row.get("id"),
        )

    def as_row(self) -> dict[str, Any]:
        """Column values for an insert/update (``id`` omitted while unknown)."""
        row: dict[str, Any] = {
            "idempotency_key": self.idempotency_key, "target": self.target, "operation": self.operation,
            "source_id": self.source_id, "payload": dict(self.payload), "payload_hash": self.payload_hash,
            "state": self.state.value, "attempts": self.attempts, "next_attempt_at": self.next_attempt_at,
            "last_error": self.last_error, "error_class": self.error_class.value if self.error_class else None,
            "target_id": self.target_id, "run_id": self.run_id, "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.id is not None:
            row["id"] = self.id
        return row


# ---- events ----

@dataclass(frozen=True)
class Claim:
    """A run takes the entry to send it now."""

    now: datetime
    run_id: str | None = None


@dataclass(frozen=True)
class Succeeded:
    now: datetime
    target_id: str | None = None


@dataclass(frozen=True)
class Failed:
    now: datetime
    error_class: ErrorClass
    message: str
    retry_after: float | None = None  # seconds, from a 429's Retry-After
    target_id: str | None = None  # for already_done, when the error names the existing record


@dataclass(frozen=True)
class LookedUp:
    """Result of searching the target for an entry that may have been sent."""

    now: datetime
    target_id: str | None


@dataclass(frozen=True)
class Replan:
    """New payload for a create that has not been done yet (same key, see idempotency)."""

    now: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Replay:
    """An operator sends a dead letter again, optionally with corrected data."""

    now: datetime
    payload: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Supersede:
    """A newer status write (``by_key``) for the same work order replaces this one unsent."""

    now: datetime
    by_key: str


@dataclass(frozen=True)
class NeedsAttention:
    now: datetime
    reason: str


@dataclass(frozen=True)
class Resolve:
    """An operator settled an attention item or a dead letter by hand."""

    now: datetime
    note: str
    target_id: str | None = None


LedgerEvent = Claim | Succeeded | Failed | LookedUp | Replan | Replay | Supersede | NeedsAttention | Resolve

_ALLOWED: dict[type, frozenset[LedgerState]] = {
    Claim: frozenset({LedgerState.PLANNED, LedgerState.FAILED}),
    Succeeded: frozenset({LedgerState.SENDING}),
    Failed: frozenset({LedgerState.SENDING}),
    LookedUp: frozenset({LedgerState.SENDING, LedgerState.FAILED}),
    Replan: frozenset({LedgerState.PLANNED, LedgerState.FAILED}),
    Replay: frozenset({LedgerState.DEAD}),
    Supersede: frozenset({LedgerState.PLANNED, LedgerState.FAILED, LedgerState.DEAD}),
    NeedsAttention: frozenset({LedgerState.PLANNED, LedgerState.FAILED}),
    Resolve: frozenset({LedgerState.ATTENTION, LedgerState.DEAD}),
}


def _error_text(message: str) -> str:
    return message if len(message) <= MAX_ERROR_LENGTH else message[: MAX_ERROR_LENGTH - 1] + "…"


def _with_payload(entry: LedgerEntry, payload: Mapping[str, Any], now: datetime) -> LedgerEntry:
    if entry.operation not in CREATE_ONCE_OPERATIONS:
        raise IllegalTransitionError(
            f"{entry.idempotency_key}: the payload of {entry.operation!r} is part of its key; plan a new entry instead"
        )
    return replace(entry, payload=dict(payload), payload_hash=payload_hash(payload), updated_at=now)


def next_transition(
    entry: LedgerEntry,
    event: LedgerEvent,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    rng: random.Random | None = None,
) -> LedgerEntry:
    """The entry after ``event``; raises `IllegalTransitionError` if the state forbids it."""
    allowed = _ALLOWED[type(event)]
    if entry.state not in allowed:
        raise IllegalTransitionError(
            f"{entry.idempotency_key}: cannot apply {type(event).__name__} in state {entry.state.value!r} "
            f"(allowed from: {', '.join(sorted(s.value for s in allowed))})"
        )
    now = event.now
    match event:
        case Claim():
            if not is_due(entry, now):
                raise IllegalTransitionError(f"{entry.idempotency_key}: not due before {entry.next_attempt_at}")
            return replace(entry, state=LedgerState.SENDING, attempts=entry.attempts + 1, next_attempt_at=None,
                           run_id=event.run_id or entry.run_id, updated_at=now)
        case Succeeded():
            return replace(entry, state=LedgerState.DONE, target_id=event.target_id or entry.target_id,
                           next_attempt_at=None, updated_at=now)
        case Failed():
            failed = replace(entry, last_error=_error_text(event.message), error_class=event.error_class,
                             updated_at=now)
            if event.error_class is ErrorClass.ALREADY_DONE:
                return replace(failed, state=LedgerState.DONE, target_id=event.target_id or entry.target_id,
                               next_attempt_at=None)
            if event.error_class is ErrorClass.PERMANENT or entry.attempts >= policy.max_attempts:
                return replace(failed, state=LedgerState.DEAD, next_attempt_at=None)
            retry_at = backoff_at(entry.attempts, now, policy.base, policy.cap, rng or random.Random())
            if event.retry_after is not None:
                retry_at = max(retry_at, now + timedelta(seconds=event.retry_after))
            return replace(failed, state=LedgerState.FAILED, next_attempt_at=retry_at)
        case LookedUp():
            if event.target_id is not None:
                return replace(entry, state=LedgerState.DONE, target_id=event.target_id, next_attempt_at=None,
                               updated_at=now)
            if entry.state is LedgerState.FAILED:
                return entry
            return replace(entry, state=LedgerState.FAILED, error_class=ErrorClass.RECOVERABLE,
                           last_error="interrupted while sending; not found on the target",
                           next_attempt_at=now, updated_at=now)
        case Replan():
            return _with_payload(entry, event.payload, now)
        case Replay():
            # attempts restart (a fresh retry budget) but error_class stays: it records that the write
            # was sent before, so `requires_lookup` still asks for a lookup before resending it.
            revived = entry if event.payload is None else _with_payload(entry, event.payload, now)
            return replace(revived, state=LedgerState.PLANNED, attempts=0, next_attempt_at=None, updated_at=now)
        case Supersede():
            if entry.operation not in LATEST_WINS_OPERATIONS:
                raise IllegalTransitionError(f"{entry.idempotency_key}: {entry.operation!r} is not superseded")
            return replace(entry, state=LedgerState.SUPERSEDED, next_attempt_at=None, updated_at=now,
                           last_error=_error_text(f"superseded by {event.by_key}: newer SF data decides the status"))
        case NeedsAttention():
            return replace(entry, state=LedgerState.ATTENTION, last_error=_error_text(event.reason),
                           next_attempt_at=None, updated_at=now)
        case Resolve():
            return replace(entry, state=LedgerState.DONE, last_error=_error_text(event.note),
                           target_id=event.target_id or entry.target_id, updated_at=now)
    raise TypeError(f"unknown ledger event {event!r}")


def is_due(entry: LedgerEntry, now: datetime) -> bool:
    """Planned entries are due at once; failed ones when their backoff has passed."""
    if entry.state is LedgerState.PLANNED:
        return True
    return entry.state is LedgerState.FAILED and (entry.next_attempt_at is None or entry.next_attempt_at <= now)


def requires_lookup(entry: LedgerEntry) -> bool:
    """True when a previous attempt may have reached the target: look it up before sending again.

    ``attempts > 0`` covers retries and crashed sends; a set ``error_class`` covers replayed
    dead letters, whose attempt counter restarted.
    """
    pending = entry.state in (LedgerState.PLANNED, LedgerState.SENDING, LedgerState.FAILED)
    return pending and (entry.attempts > 0 or entry.error_class is not None)


#: Added to the longest write so a clock tick or a slow ledger commit never makes a live send look dead.
ORPHAN_GRACE_MARGIN = timedelta(minutes=1)


def orphan_grace(longest_write_seconds: float) -> timedelta:
    """How long a ``sending`` entry must be untouched before another worker may settle it by lookup.

    The owner re-confirms its claim (touching the entry) right before each send, so the grace
    must outlast one send from that touch to its end: the client's worst case (timeouts x
    attempts + backoff, `clients.resilience.RetryPolicy.worst_case_seconds`). Shorter, and a
    send still in flight could be looked up, found absent, and sent again.
    """
    return timedelta(seconds=longest_write_seconds) + ORPHAN_GRACE_MARGIN


def is_stale(entry: LedgerEntry, now: datetime, older_than: timedelta) -> bool:
    """A ``sending`` entry untouched for ``older_than``: its run died; resolve it by lookup."""
    return entry.state is LedgerState.SENDING and entry.updated_at is not None and entry.updated_at < now - older_than


def sf_version(payload: Mapping[str, Any]) -> int:
    """The SF job version a latest-wins write comes from; 0 for a write planned without one."""
    value = payload.get(SF_VERSION_FIELD)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def supersedes(newer: LedgerEntry, older: LedgerEntry) -> bool:
    """True when ``older`` must never be sent because ``newer`` sets the same work order's status
    from newer SF data (a write without a version is older than any with one)."""
    return (newer.idempotency_key != older.idempotency_key
            and newer.operation in LATEST_WINS_OPERATIONS and older.operation in LATEST_WINS_OPERATIONS
            and (newer.target, newer.source_id) == (older.target, older.source_id)
            and sf_version(newer.payload) > sf_version(older.payload))
