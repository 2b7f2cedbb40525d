"""SQL persistence of the outbox (``ops.sync_ledger``): the only code that moves ledger rows.

`core.ledger` decides which transitions are legal; this module makes them durable and makes
them safe under concurrency and crashes, which is where "at most one SF job per PW work order,
ever" is actually won or lost:

* **Planning is idempotent.** `LedgerStore.record_plan` inserts with ``ON CONFLICT DO NOTHING``
  on the unique idempotency key, so a rerun or two concurrent plans land on one row. A
  create whose payload changed while still unsent is re-planned in place (same key); planned
  rows that were never sent and are no longer in the plan are withdrawn, so a stale dry run
  can never be executed later.
* **A claim is exclusive.** `LedgerWorker.claim_next` takes due rows with
  ``FOR UPDATE SKIP LOCKED`` (two executors never wait on or take the same row) and, before it
  commits ``sending``, takes a session-level *advisory lock* on the row id on the worker's own
  connection. The lock lives exactly as long as the sending process: a crash or ``SIGKILL``
  closes the connection and PostgreSQL releases it.
* **A crash is resolved by lookup.** A ``sending`` row whose advisory lock is free has no live
  owner: `LedgerWorker.recover_orphans` hands it back (lock taken) so the executor looks the
  record up on the target before anything is resent. ``orphan_grace`` additionally requires the
  row to be untouched that long, as a second guard for the one case the lock cannot cover (the
  worker's database connection dropped while its request was still in flight); taking an
  orphan over is itself a guarded touch, so it cannot race the owner's confirmation.
* **Ownership is re-checked before every send.** `LedgerWorker.confirm_claim` proves, in one
  statement, that the worker's session still holds the row's advisory lock, then touches the
  row (``updated_at`` as a version: it must be what the worker last wrote). The grace is at
  least one send's worst case (`core.ledger.orphan_grace`), so nobody may take over while a
  confirmed send can still be in flight.
* **No pooled sessions.** Advisory locks mean nothing behind a transaction-mode pooler
  (PgBouncer, Supabase's port 6543, RDS Proxy): a known pooler URL is refused, and every worker
  marks its session with a random token and checks, at start and in every confirmation, that
  the same backend with the same token answers (`PooledConnectionError` otherwise).
* **The latest status wins.** A PW status write (`core.ledger.LATEST_WINS_OPERATIONS`) that a
  newer one supersedes is marked ``superseded`` when the newer one is planned, and again at
  claim and at replay (a write in flight or dead when the newer one was planned is caught
  there), so an old status never reaches PW after a newer one (decision 0012).
* **Every move is guarded.** A state change is ``UPDATE ... WHERE id = :id AND state = :old
  AND attempts = :old_attempts``; zero rows updated raises `LedgerConflictError` instead of
  silently overwriting another run's outcome.

SQLAlchemy Core only; no Dagster here.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError

from greenlight_dagster.core.dedup import DuplicateDecision
from greenlight_dagster.core.idempotency import CREATE_ONCE_OPERATIONS
from greenlight_dagster.core.ledger import (
    DEFAULT_RETRY_POLICY,
    LATEST_WINS_OPERATIONS,
    Claim,
    LedgerEntry,
    LedgerEvent,
    LedgerState,
    Replan,
    Replay,
    Resolve,
    RetryPolicy,
    Supersede,
    is_due,
    is_stale,
    next_transition,
    supersedes,
)
from greenlight_dagster.core.plan import PlannedWrite
from greenlight_dagster.core.pooler import transaction_pooler
from greenlight_dagster.warehouse.tables import dead_letter, duplicate_detection_log, sync_ledger

#: First key of the two-key advisory lock space, so our locks cannot collide with anyone else's
#: single-key locks. ASCII "GLSL" (GreenLight sync ledger).
ADVISORY_NAMESPACE = 0x474C534C - (1 << 31)
_INT4_SPAN = 1 << 31
#: How pg_locks shows the namespace (``classid`` is an oid: the int4 read as unsigned).
_NAMESPACE_OID = ADVISORY_NAMESPACE % (1 << 32)
#: The session setting a worker marks its connection with (`LedgerWorker.confirm_session`).
SESSION_MARK = "greenlight.ledger_session"
#: Round trips that must all reach the same marked session before a worker claims anything.
SESSION_PROBES = 3
DEFAULT_CLAIM_BATCH = 20
#: How long a claim waits for a due row another transaction holds before reporting nothing due.
DEFAULT_CLAIM_WAIT = timedelta(seconds=60)
#: SQLSTATE of ``lock_timeout`` expiring.
LOCK_NOT_AVAILABLE = "55P03"

_COLUMNS = [c for c in sync_ledger.c]


class LedgerConflictError(RuntimeError):
    """A guarded update found the row in another state than expected: another run moved it."""


class ClaimLostError(LedgerConflictError):
    """A claimed entry is no longer this worker's (taken over after the grace): do not send it."""


class PooledConnectionError(RuntimeError):
    """The ledger's connection does not keep its session, so its advisory locks guard nothing."""


POOLED_ADVICE = ("point GREENLIGHT_WAREHOUSE_URL at a direct or session-mode connection (docs/deploy.md, "
                 "'Connection poolers')")


class UnknownLedgerEntryError(LookupError):
    """No ledger row with that id."""


@dataclass(frozen=True)
class PlanRecordResult:
    """What `LedgerStore.record_plan` did, for run metadata."""

    inserted: int
    replanned: int
    unchanged: int
    withdrawn: int
    superseded: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "replanned": self.replanned, "unchanged": self.unchanged,
                "withdrawn": self.withdrawn, "superseded": self.superseded}


@dataclass(frozen=True)
class DeadLetter:
    """One ``ops.dead_letter`` row with its ledger entry."""

    id: int
    reason: str
    details: Mapping[str, Any] | None
    created_at: datetime
    replayed_at: datetime | None
    entry: LedgerEntry


def _advisory_key(ledger_id: int) -> int:
    """The row id folded into the int4 second key (a collision only makes a lock look busy)."""
    return ledger_id % _INT4_SPAN


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry.from_row(row._mapping)


def _changed_values(entry: LedgerEntry) -> dict[str, Any]:
    values = entry.as_row()
    for fixed in ("id", "idempotency_key", "target", "operation", "source_id", "created_at"):
        values.pop(fixed, None)
    return values


def _guarded_update(conn: Connection, before: LedgerEntry, after: LedgerEntry) -> None:
    """Write ``after`` over ``before`` only if the row still is ``before`` (state and attempts)."""
    if before.id is None:
        raise ValueError(f"{before.idempotency_key}: entry has no id; load it from the store first")
    result = conn.execute(
        update(sync_ledger)
        .where(sync_ledger.c.id == before.id, sync_ledger.c.state == before.state.value,
               sync_ledger.c.attempts == before.attempts)
        .values(**_changed_values(after))
    )
    if result.rowcount != 1:
        raise LedgerConflictError(
            f"{before.idempotency_key}: expected state {before.state.value!r} after {before.attempts} attempts; "
            "another run changed the entry"
        )


def _dead_letter_row(entry: LedgerEntry, now: datetime, details: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "ledger_id": entry.id, "reason": entry.last_error or "no error recorded", "created_at": now,
        "details": {"target": entry.target, "operation": entry.operation, "source_id": entry.source_id,
                    "error_class": entry.error_class.value if entry.error_class else None,
                    "attempts": entry.attempts, **(details or {})},
    }


def _due_clause(now: datetime) -> Any:
    return or_(
        sync_ledger.c.state == LedgerState.PLANNED.value,
        and_(sync_ledger.c.state == LedgerState.FAILED.value,
             or_(sync_ledger.c.next_attempt_at.is_(None), sync_ledger.c.next_attempt_at <= now)),
    )


def _status_writes_of(conn: Connection, entry: LedgerEntry, states: Iterable[LedgerState] | None = None,
                      ) -> list[LedgerEntry]:
    """The other latest-wins writes of ``entry``'s work order (in ``states`` when given), newest first."""
    if entry.operation not in LATEST_WINS_OPERATIONS:
        return []
    query = select(*_COLUMNS).where(
        sync_ledger.c.target == entry.target, sync_ledger.c.source_id == entry.source_id,
        sync_ledger.c.operation.in_(sorted(LATEST_WINS_OPERATIONS)),
        sync_ledger.c.idempotency_key != entry.idempotency_key).order_by(sync_ledger.c.id.desc())
    if states is not None:
        query = query.where(sync_ledger.c.state.in_([s.value for s in states])).with_for_update()
    return [_entry(row) for row in conn.execute(query)]


def _superseded_by(conn: Connection, entry: LedgerEntry) -> LedgerEntry | None:
    """A status write for the same work order from newer SF data than ``entry``'s, if one is recorded."""
    return next((newer for newer in _status_writes_of(conn, entry) if supersedes(newer, entry)), None)


def _scope(target: str, operations: Iterable[str], ids: Iterable[int] | None) -> Any:
    """Rows of ``operations`` on ``target``; only the ledger ``ids`` when given (a replay sends just those)."""
    clause = and_(sync_ledger.c.target == target, sync_ledger.c.operation.in_(list(operations)))
    return clause if ids is None else and_(clause, sync_ledger.c.id.in_(sorted(ids)))


class LedgerStore:
    """Reads and writes ``ops.sync_ledger`` and its companions (dead letters, dedup log)."""

    def __init__(self, engine: Engine, *, policy: RetryPolicy = DEFAULT_RETRY_POLICY,
                 rng: random.Random | None = None) -> None:
        self.engine = engine
        self.policy = policy
        self.rng = rng or random.Random()

    # ---- reading ----

    def get(self, ledger_id: int) -> LedgerEntry:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(sync_ledger.c.id == ledger_id)).first()
        if row is None:
            raise UnknownLedgerEntryError(f"no ledger entry {ledger_id}")
        return _entry(row)

    def by_key(self, key: str) -> LedgerEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(sync_ledger.c.idempotency_key == key)).first()
        return _entry(row) if row is not None else None

    def entries(self, *, target: str | None = None, operations: Iterable[str] | None = None,
                states: Iterable[LedgerState] | None = None, source_ids: Iterable[str] | None = None,
                ) -> list[LedgerEntry]:
        """Entries matching every given filter, oldest first."""
        query = select(*_COLUMNS).order_by(sync_ledger.c.id)
        if target is not None:
            query = query.where(sync_ledger.c.target == target)
        if operations is not None:
            query = query.where(sync_ledger.c.operation.in_(list(operations)))
        if states is not None:
            query = query.where(sync_ledger.c.state.in_([s.value for s in states]))
        if source_ids is not None:
            query = query.where(sync_ledger.c.source_id.in_(list(source_ids)))
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def ledger_for_plan(self, source_ids: Iterable[str]) -> dict[str, LedgerEntry]:
        """Existing entries of these source ids, keyed by idempotency key (`build_push_plan`'s ``ledger``)."""
        wanted = sorted(set(source_ids))
        if not wanted:
            return {}
        return {entry.idempotency_key: entry for entry in self.entries(source_ids=wanted)}

    def count_states(self) -> dict[str, int]:
        """``target.operation.state`` -> rows, for metadata."""
        query = select(sync_ledger.c.target, sync_ledger.c.operation, sync_ledger.c.state,
                       func.count().label("n")).group_by(sync_ledger.c.target, sync_ledger.c.operation,
                                                         sync_ledger.c.state)
        with self.engine.connect() as conn:
            return {f"{row.target}.{row.operation}.{row.state}": row.n for row in conn.execute(query)}

    def count_claimed(self, run_id: str, operations: Iterable[str]) -> int:
        """Entries of ``operations`` a run has claimed (the safe-mode cap counts creates per run)."""
        query = select(func.count()).select_from(sync_ledger).where(
            sync_ledger.c.run_id == run_id, sync_ledger.c.operation.in_(list(operations)),
            sync_ledger.c.attempts > 0)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def count_run_creates(self, run_id: str, target: str, now: datetime) -> int:
        """Creates on ``target`` this run has claimed or will still claim (due), each row once.

        A plan made partway through a run (`outbox.planning.plan_follow_up`) counts these against
        the safe-mode cap, which limits the creates of a run, not of one plan.
        """
        query = select(func.count()).select_from(sync_ledger).where(
            sync_ledger.c.target == target, sync_ledger.c.operation.in_(sorted(CREATE_ONCE_OPERATIONS)),
            or_(and_(sync_ledger.c.run_id == run_id, sync_ledger.c.attempts > 0), _due_clause(now)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def count_due(self, target: str, operations: Iterable[str], now: datetime, *,
                  ids: Iterable[int] | None = None) -> int:
        query = select(func.count()).select_from(sync_ledger).where(
            _scope(target, operations, ids), _due_clause(now))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # ---- planning ----

    def record_plan(self, writes: Sequence[PlannedWrite], *, now: datetime, run_id: str | None = None,
                    withdraw_unplanned: bool = True) -> PlanRecordResult:
        """Make the ledger hold exactly this plan's pending writes, in one transaction.

        New keys are inserted (``planned``, or ``attention`` for follow-up items); a create
        still ``planned``/``failed`` with a different payload is re-planned under the same key;
        with ``withdraw_unplanned``, ``planned`` rows that were never attempted (no attempts, no
        error class) and are not in ``writes`` are deleted: nothing was sent for them, and
        leaving them would let an executor send a write the current data no longer asks for.
        """
        inserted = replanned = unchanged = superseded = 0
        keys = [w.idempotency_key for w in writes]
        with self.engine.begin() as conn:
            for write in writes:
                row = write.ledger_entry(now, run_id).as_row()
                result = conn.execute(pg_insert(sync_ledger).values(**row)
                                      .on_conflict_do_nothing(index_elements=["idempotency_key"]))
                if write.operation in LATEST_WINS_OPERATIONS:
                    superseded += self._supersede_older(conn, write, now)
                if result.rowcount == 1:
                    inserted += 1
                    continue
                existing = conn.execute(select(*_COLUMNS).where(sync_ledger.c.idempotency_key ==
                                                                write.idempotency_key).with_for_update()).one()
                entry = _entry(existing)
                if (write.operation in CREATE_ONCE_OPERATIONS and entry.payload_hash != write.payload_hash
                        and entry.state in (LedgerState.PLANNED, LedgerState.FAILED)):
                    _guarded_update(conn, entry, replace(next_transition(entry, Replan(now, write.payload)),
                                                         run_id=run_id or entry.run_id))
                    replanned += 1
                else:
                    unchanged += 1
            withdrawn = 0
            if withdraw_unplanned:
                result = conn.execute(
                    sync_ledger.delete().where(
                        sync_ledger.c.state == LedgerState.PLANNED.value, sync_ledger.c.attempts == 0,
                        sync_ledger.c.error_class.is_(None), sync_ledger.c.idempotency_key.not_in(keys))
                )
                withdrawn = result.rowcount
        return PlanRecordResult(inserted, replanned, unchanged, withdrawn, superseded)

    def _supersede_older(self, conn: Connection, write: PlannedWrite, now: datetime) -> int:
        """Mark the pending or dead status writes of the work order that ``write`` supersedes."""
        newer = write.ledger_entry(now)
        count = 0
        for older in _status_writes_of(conn, newer, (LedgerState.PLANNED, LedgerState.FAILED, LedgerState.DEAD)):
            if supersedes(newer, older):
                self.apply(older, Supersede(now, write.idempotency_key), conn=conn)
                count += 1
        return count

    def log_decisions(self, decisions: Iterable[tuple[str, DuplicateDecision]], *, target: str,
                      run_id: str | None, now: datetime) -> int:
        """One ``ops.duplicate_detection_log`` row per dedup decision (criterion, score, reason)."""
        rows = [{**decision.as_log_row(target, source_id, run_id), "checked_at": now}
                for source_id, decision in decisions]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(duplicate_detection_log), rows)
        return len(rows)

    def new_duplicate_detections(self, run_id: str) -> list[str]:
        """This run's duplicate decisions on records no earlier decision had flagged, one line each.

        A work order held as a duplicate is re-examined by every sync; operators hear of it once.
        """
        query = text(
            "select d.source_id, d.candidate_id, d.reason from ops.duplicate_detection_log d "
            "where d.run_id = :run and d.decision = 'duplicate' and not exists ("
            " select from ops.duplicate_detection_log e where e.target = d.target and e.source_id = d.source_id"
            " and e.decision = 'duplicate' and e.id < d.id and e.run_id is distinct from :run) "
            "order by d.id")
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"run": run_id}).all()
        return [f"work order {row.source_id} ~ SF job {row.candidate_id or '?'}: {row.reason or ''}" for row in rows]

    # ---- executing ----

    @contextmanager
    def worker(self, run_id: str | None = None) -> Iterator[LedgerWorker]:
        """A `LedgerWorker` holding its own connection for the advisory locks of its claims.

        Refuses (`PooledConnectionError`) a known transaction-pooler URL, and a connection
        whose session does not survive from one transaction to the next.
        """
        url = self.engine.url
        if (pooler := transaction_pooler(url.host, url.port)) is not None:
            raise PooledConnectionError(f"the warehouse URL goes through {pooler}: the ledger's claims need their "
                                        f"own database session; {POOLED_ADVICE}")
        with self.engine.connect() as lock_conn:
            lock_conn.execution_options(isolation_level="AUTOCOMMIT")
            worker = LedgerWorker(self, lock_conn, run_id)
            try:
                for _ in range(SESSION_PROBES):
                    worker.confirm_session()
                yield worker
            finally:
                worker.release_all()

    def apply(self, before: LedgerEntry, event: LedgerEvent, *, details: Mapping[str, Any] | None = None,
              conn: Connection | None = None) -> LedgerEntry:
        """Apply one core transition to a stored entry; a move to ``dead`` also files a dead letter."""
        after = next_transition(before, event, self.policy, self.rng)
        if conn is None:
            with self.engine.begin() as own:
                self._write(own, before, after, event.now, details)
        else:
            self._write(conn, before, after, event.now, details)
        return after

    def touch(self, entry: LedgerEntry, now: datetime) -> LedgerEntry | None:
        """``entry`` with ``updated_at = now`` if it is still exactly as read (state, attempts and
        ``updated_at``, the version), else None: someone else moved or touched it meanwhile."""
        with self.engine.begin() as conn:
            moved = conn.execute(update(sync_ledger).where(
                sync_ledger.c.id == entry.id, sync_ledger.c.state == entry.state.value,
                sync_ledger.c.attempts == entry.attempts, sync_ledger.c.updated_at == entry.updated_at,
            ).values(updated_at=now)).rowcount
        return replace(entry, updated_at=now) if moved == 1 else None

    @staticmethod
    def _write(conn: Connection, before: LedgerEntry, after: LedgerEntry, now: datetime,
               details: Mapping[str, Any] | None) -> None:
        _guarded_update(conn, before, after)
        if after.state is LedgerState.DEAD and before.state is not LedgerState.DEAD:
            conn.execute(insert(dead_letter).values(**_dead_letter_row(after, now, details)))

    # ---- dead letters and manual follow-up ----

    def dead_letters(self, *, include_replayed: bool = False) -> list[DeadLetter]:
        query = (select(dead_letter.c.id, dead_letter.c.reason, dead_letter.c.details, dead_letter.c.created_at,
                        dead_letter.c.replayed_at, *[c.label(f"l_{c.name}") for c in _COLUMNS])
                 .join(sync_ledger, sync_ledger.c.id == dead_letter.c.ledger_id).order_by(dead_letter.c.id))
        if not include_replayed:  # a superseded one is settled too: newer SF data decides that status
            query = query.where(dead_letter.c.replayed_at.is_(None), sync_ledger.c.state == LedgerState.DEAD.value)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [DeadLetter(row.id, row.reason, row.details, row.created_at, row.replayed_at,
                           LedgerEntry.from_row({c.name: row._mapping[f"l_{c.name}"] for c in _COLUMNS}))
                for row in rows]

    def replay(self, ledger_id: int, *, now: datetime, payload: Mapping[str, Any] | None = None) -> LedgerEntry:
        """Send a dead letter again: back to ``planned`` through the same path as any write.

        The entry keeps its error class, so the executor looks the record up on the target
        before it resends (`core.ledger.requires_lookup`); ``payload`` corrects a create's body.
        A PW status write that newer SF data superseded is not replayed: it is returned
        ``superseded``, since sending it would overwrite the newer status.
        """
        with self.engine.begin() as conn:
            row = conn.execute(select(*_COLUMNS).where(sync_ledger.c.id == ledger_id).with_for_update()).first()
            if row is None:
                raise UnknownLedgerEntryError(f"no ledger entry {ledger_id}")
            entry = _entry(row)
            newer = _superseded_by(conn, entry) if entry.state is LedgerState.DEAD else None
            event = Replay(now, payload) if newer is None else Supersede(now, newer.idempotency_key)
            after = self.apply(entry, event, conn=conn)
            conn.execute(update(dead_letter).where(dead_letter.c.ledger_id == ledger_id,
                                                   dead_letter.c.replayed_at.is_(None)).values(replayed_at=now))
        return after

    def resolve(self, ledger_id: int, *, now: datetime, note: str, target_id: str | None = None) -> LedgerEntry:
        """An operator settled an attention item or dead letter by hand (e.g. found the SF record)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(*_COLUMNS).where(sync_ledger.c.id == ledger_id).with_for_update()).first()
            if row is None:
                raise UnknownLedgerEntryError(f"no ledger entry {ledger_id}")
            after = self.apply(_entry(row), Resolve(now, note, target_id), conn=conn)
            conn.execute(update(dead_letter).where(dead_letter.c.ledger_id == ledger_id,
                                                   dead_letter.c.replayed_at.is_(None)).values(replayed_at=now))
        return after


class LedgerWorker:
    """One executor's claims: the advisory locks it holds live on ``lock_conn``.

    Use through `LedgerStore.worker`. Not thread-safe: one worker per thread.
    """

    def __init__(self, store: LedgerStore, lock_conn: Connection, run_id: str | None, *,
                 claim_wait: timedelta = DEFAULT_CLAIM_WAIT) -> None:
        self.store = store
        self.lock_conn = lock_conn
        self.run_id = run_id
        self.claim_wait = claim_wait
        self._held: set[int] = set()
        self._mark = secrets.token_hex(16)
        self._backend = int(lock_conn.execute(text("select pg_backend_pid() from set_config(:name, :mark, false)"),
                                              {"name": SESSION_MARK, "mark": self._mark}).scalar_one())
        #: Status writes found superseded at claim (never sent).
        self.superseded = 0

    def confirm_session(self) -> None:
        """Raise `PooledConnectionError` unless the lock connection still reaches this worker's own session.

        A transaction-mode pooler sends each transaction to any free server connection: the
        backend changes, or another client's mark replaces ours on a shared one.
        """
        backend, mark = self.lock_conn.execute(
            text("select pg_backend_pid(), current_setting(:name, true)"), {"name": SESSION_MARK}).one()
        if backend != self._backend or mark != self._mark:
            raise PooledConnectionError(
                "the ledger's database session changed between transactions (backend "
                f"{self._backend} -> {backend}{'' if mark == self._mark else ', session mark replaced'}): the "
                f"connection goes through a transaction-mode pooler, under which claims are not exclusive; "
                f"{POOLED_ADVICE}")

    def confirm_claim(self, entry: LedgerEntry, now: datetime) -> LedgerEntry:
        """Re-check, right before a send, that ``entry`` is still this worker's; returns it touched.

        One statement proves the session is ours and holds the entry's advisory lock; then a
        guarded update moves ``updated_at`` only if nobody else did (a takeover after the grace
        touches it too). `ClaimLostError` or `PooledConnectionError` mean: do not send.
        """
        if entry.id is None or entry.id not in self._held:
            raise ClaimLostError(f"{entry.idempotency_key}: not claimed by this worker")
        backend, mark, locked = self.lock_conn.execute(text(
            "select pg_backend_pid(), current_setting(:name, true), exists(select from pg_locks where "
            "locktype = 'advisory' and classid::bigint = :ns and objid::bigint = :key and objsubid = 2 "
            "and pid = pg_backend_pid() and granted)"),
            {"name": SESSION_MARK, "ns": _NAMESPACE_OID, "key": _advisory_key(entry.id)}).one()
        if backend != self._backend or mark != self._mark or not locked:
            self.confirm_session()  # names the pooler when that is the cause
            raise ClaimLostError(f"{entry.idempotency_key}: this worker's session no longer holds the entry's lock")
        touched = self.store.touch(entry, now)
        if touched is None:
            raise ClaimLostError(f"{entry.idempotency_key}: another worker took the entry over; not sending")
        return touched

    def _try_lock(self, ledger_id: int) -> bool:
        got = bool(self.lock_conn.execute(text("select pg_try_advisory_lock(:ns, :key)"),
                                          {"ns": ADVISORY_NAMESPACE, "key": _advisory_key(ledger_id)}).scalar_one())
        if got:
            self._held.add(ledger_id)
        return got

    def _unlock(self, ledger_id: int) -> None:
        if ledger_id in self._held:
            self._held.discard(ledger_id)
            self.lock_conn.execute(text("select pg_advisory_unlock(:ns, :key)"),
                                   {"ns": ADVISORY_NAMESPACE, "key": _advisory_key(ledger_id)})

    def release_all(self) -> None:
        for ledger_id in list(self._held):
            self._unlock(ledger_id)

    def claim_next(self, target: str, operations: Iterable[str], *, now: datetime,
                   batch: int = DEFAULT_CLAIM_BATCH, ids: Iterable[int] | None = None,
                   ) -> tuple[LedgerEntry, LedgerEntry] | None:
        """Claim the oldest due entry: returns (entry before the claim, entry now ``sending``).

        The "before" entry tells the caller whether a lookup is needed (`requires_lookup`). The
        advisory lock is taken before ``sending`` is committed, so there is no instant at which
        the row is ``sending`` and looks ownerless. ``ids`` limits the claim to those entries.

        None means no entry is due - not merely none that is unlocked: a row lock on a due row
        may belong to a *planner* (`LedgerStore.record_plan` locks the existing rows it compares)
        rather than to another claimer, and skipping it made two concurrent pushes both stop
        with a planned row left behind. So when the ``SKIP LOCKED`` batch yields nothing, one
        blocking ``FOR UPDATE`` of the oldest due row waits for whoever holds it (at most
        ``claim_wait``), then claims it if it is still due. The waiting transaction holds no
        other lock, so it cannot deadlock with the planner.
        """
        due = select(*_COLUMNS).where(_scope(target, operations, ids), _due_clause(now)).order_by(sync_ledger.c.id)
        while True:
            superseded = self.superseded
            with self.store.engine.begin() as conn:
                claimed = self._claim_first(
                    conn, conn.execute(due.limit(batch).with_for_update(skip_locked=True)).all(), now)
            if claimed is not None:
                return claimed
            try:
                with self.store.engine.begin() as conn:
                    conn.execute(text(f"set local lock_timeout = {int(self.claim_wait.total_seconds() * 1000)}"))
                    claimed = self._claim_first(conn, conn.execute(due.limit(1).with_for_update()).all(), now)
            except OperationalError as exc:
                if getattr(exc.orig, "pgcode", None) == LOCK_NOT_AVAILABLE:
                    return None
                raise
            if claimed is not None or self.superseded == superseded:
                return claimed  # else rows were superseded instead of claimed: look again

    def _claim_first(self, conn: Connection, rows: Sequence[Any], now: datetime,
                     ) -> tuple[LedgerEntry, LedgerEntry] | None:
        """Claim the first of ``rows`` (row-locked by ``conn``) that is due and whose advisory lock is free;
        a status write newer SF data superseded is marked so on the way, never claimed."""
        for row in rows:
            before = _entry(row)
            if before.id is None or not is_due(before, now):
                continue
            newer = _superseded_by(conn, before)
            if newer is not None:
                self.store.apply(before, Supersede(now, newer.idempotency_key), conn=conn)
                self.superseded += 1
                continue
            if not self._try_lock(before.id):
                continue
            try:
                after = self.store.apply(before, Claim(now, self.run_id), conn=conn)
            except Exception:
                self._unlock(before.id)
                raise
            return before, after
        return None

    def recover_orphans(self, target: str, operations: Iterable[str], *, now: datetime, grace: timedelta,
                        ids: Iterable[int] | None = None) -> Iterator[LedgerEntry]:
        """Yield ``sending`` entries with no live owner (lock free, untouched for ``grace``).

        ``grace`` must outlast one send (`core.ledger.orphan_grace`). Each yielded entry is
        locked for this worker and touched (taken over), so a late confirmation by its old owner
        fails; the caller must look it up on the target and then `finish` it (``LookedUp``),
        which releases the lock.
        """
        with self.store.engine.connect() as conn:
            candidates = [_entry(row) for row in conn.execute(
                select(*_COLUMNS).where(_scope(target, operations, ids),
                                        sync_ledger.c.state == LedgerState.SENDING.value).order_by(sync_ledger.c.id)
            )]
        for candidate in candidates:
            if candidate.id is None or (grace > timedelta(0) and not is_stale(candidate, now, grace)):
                continue
            if not self._try_lock(candidate.id):
                continue  # a live executor is sending it right now
            current = self.store.get(candidate.id)  # re-read under the lock: it may have finished meanwhile
            taken = None
            if (current.state is LedgerState.SENDING and current.attempts == candidate.attempts
                    and (grace <= timedelta(0) or is_stale(current, now, grace))):
                taken = self.store.touch(current, now)
            if taken is None:
                self._unlock(candidate.id)
                continue
            yield taken

    def release(self, entry: LedgerEntry) -> None:
        """Give up a claim without recording anything (`ClaimLostError`: the entry is someone else's)."""
        if entry.id is not None:
            self._unlock(entry.id)

    def finish(self, before: LedgerEntry, event: LedgerEvent, *,
               details: Mapping[str, Any] | None = None) -> LedgerEntry:
        """Record the outcome of a claimed entry and release its lock."""
        try:
            return self.store.apply(before, event, details=details)
        finally:
            if before.id is not None:
                self._unlock(before.id)
