"""The push loop over the ledger, with the error classification that keeps writes exactly-once.

For each due entry of one target::

    claim (planned|failed -> sending, advisory lock held)
      -> look up on the target first   if the write may have reached it before
                                       (`requires_lookup`: always per item), for creates in safe
                                       mode, and for PW writes under pw_verify_strict (the
                                       re-read); those two on a first attempt may answer from
                                       the step's bulk read, `outbox.bulk_verify` (decision 0007)
      -> strict verification           pw_verify_strict: re-read the source record; stop if it
                                       no longer qualifies (dead letter with the reason)
      -> confirm the claim             the session still holds the lock, nobody took the entry over
      -> send
      -> record                        done | failed (backoff) | dead (+ dead letter)

Before the loop, ``sending`` entries with no live owner (a crashed or killed run) are looked up
and settled, so a write whose response was lost is found instead of sent again.

Error classes (`classify_send_error`): `AmbiguousWriteError` and other `RetryableError` are
recoverable - the entry goes to ``failed`` and, because it now has attempts, the next try starts
with a lookup; `PermanentError` (422 validation, 4xx, SOAP client faults) goes straight to a
dead letter with the field errors; an error whose ``kind`` says the record already exists is
done. A `CircuitOpenError` ends the loop: the API is down and every further claim would fail.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.resilience import (
    CircuitOpenError,
    ClientError,
    PermanentError,
    RetryableError,
    RetryPolicy,
)
from greenlight_dagster.clients.servicefusion import ServiceFusionClient
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.idempotency import CREATE_ONCE_OPERATIONS
from greenlight_dagster.core.ledger import (
    ErrorClass,
    Failed,
    LedgerEntry,
    LookedUp,
    Succeeded,
    classify_error,
    orphan_grace,
    requires_lookup,
)
from greenlight_dagster.warehouse.ledger_store import (
    ClaimLostError,
    LedgerStore,
    LedgerWorker,
    PooledConnectionError,
)

log = logging.getLogger(__name__)

#: The grace when the caller does not derive one from its client's settings: the longer of the two
#: clients' worst-case writes at their default timeouts and retries (PW: 61.5 min, SF: 20 min, plus the margin).
DEFAULT_ORPHAN_GRACE = orphan_grace(max(PropertyWareClient.longest_write_seconds(90.0, RetryPolicy()),
                                        ServiceFusionClient.longest_write_seconds(60.0, RetryPolicy())))

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class LookupOutcome(StrEnum):
    FOUND = "found"
    ABSENT = "absent"
    UNSEARCHABLE = "unsearchable"


@dataclass(frozen=True)
class Lookup:
    """What the target says about an entry that may have been sent."""

    outcome: LookupOutcome
    target_id: str | None = None
    detail: str = ""

    @classmethod
    def found(cls, target_id: str, detail: str = "") -> Lookup:
        return cls(LookupOutcome.FOUND, target_id, detail)

    @classmethod
    def absent(cls, detail: str = "") -> Lookup:
        return cls(LookupOutcome.ABSENT, None, detail)

    @classmethod
    def unsearchable(cls, detail: str) -> Lookup:
        return cls(LookupOutcome.UNSEARCHABLE, None, detail)


class Gateway(Protocol):
    """One target system as the executor sees it (implementations in `outbox.gateways`)."""

    target: str
    #: True when strict verification is a re-read of the record: look it up before every send.
    verify_by_lookup: bool

    def lookup(self, entry: LedgerEntry) -> Lookup:
        """Search the target for the record this entry writes (never writes anything)."""
        ...

    def verify_lookup(self, entry: LedgerEntry) -> Lookup:
        """The lookup of strict verification (``verify_by_lookup``) for an entry no earlier attempt
        may have sent; it may answer from a snapshot read before the step (`outbox.bulk_verify`)."""
        ...

    def verify(self, entry: LedgerEntry) -> str | None:
        """Strict verification: why the write must not be sent any more, or None."""
        ...

    def send(self, entry: LedgerEntry) -> str | None:
        """Perform the write; returns the target record's id when the target gives one."""
        ...


@dataclass(frozen=True)
class SendError:
    """A classified failure of one attempt."""

    error_class: ErrorClass
    message: str
    retry_after: float | None = None
    details: Mapping[str, Any] | None = None


def classify_send_error(exc: Exception) -> SendError:
    """Map a client exception to a ledger error class (module docstring).

    A ``kind`` attribute on the exception refines the class (``already_exists`` -> done); an
    exception that is not a client error is a bug: permanent, so it lands in a dead letter for a
    person - and since the entry then has an error class, a replay looks the record up first.
    """
    kind = str(getattr(exc, "kind", "") or "")
    status = getattr(exc, "status_code", None)
    message = f"{type(exc).__name__}: {exc}"
    field_errors = getattr(exc, "errors", None)
    details: dict[str, Any] = {"exception": type(exc).__name__}
    if kind:
        details["kind"] = kind
    if isinstance(field_errors, list) and field_errors:
        details["field_errors"] = field_errors
    if kind and classify_error(None, kind) is ErrorClass.ALREADY_DONE:
        return SendError(ErrorClass.ALREADY_DONE, message, details=details)
    if isinstance(exc, CircuitOpenError | RetryableError):
        return SendError(ErrorClass.RECOVERABLE, message, getattr(exc, "retry_after", None), details)
    if isinstance(exc, PermanentError):
        return SendError(ErrorClass.PERMANENT, message, details=details)
    status_code = status if isinstance(status, int) and status >= 400 else None
    return SendError(classify_error(status_code, kind or "unexpected_error"), message, details=details)


@dataclass
class ExecutionReport:
    """Counters of one `execute` call, for asset metadata and tests."""

    target: str
    operations: tuple[str, ...]
    skipped_reason: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    stopped_early: str | None = None

    def bump(self, name: str, by: int = 1) -> None:
        self.counts[name] += by

    def absorb(self, other: ExecutionReport) -> None:
        """Add a later `execute` call of the same step (a push that sends in stages) to this report.

        Counters add up, except ``due_not_sent``: a count of the ledger at the end, so the later one holds.
        """
        self.counts.update(other.counts)
        self.counts["due_not_sent"] = other.counts["due_not_sent"]
        self.errors.extend(other.errors)
        self.skipped_reason = self.skipped_reason or other.skipped_reason
        self.stopped_early = self.stopped_early or other.stopped_early

    def as_metadata(self) -> dict[str, Any]:
        names = ("claimed", "sent", "created", "already_done", "found_by_lookup", "failed", "dead_letters",
                 "verification_failed", "orphans_recovered", "claims_lost", "superseded", "due_not_sent")
        return {**{name: self.counts.get(name, 0) for name in names},
                "skipped_reason": self.skipped_reason or "", "stopped_early": self.stopped_early or ""}


@dataclass(frozen=True)
class ExecuteOptions:
    """How far one `execute` call may go.

    ``max_claims`` bounds the entries claimed (the safe-mode cap on creates is passed here);
    ``orphan_grace`` is how long a ``sending`` entry with no live owner must be untouched
    before it is settled by lookup: at least one send's worst case (`core.ledger.orphan_grace`,
    see `warehouse.ledger_store`); ``ledger_ids`` limits the
    call to those entries (a replay sends what it replayed, not the rest of the ledger).
    """

    max_claims: int | None = None
    orphan_grace: timedelta = DEFAULT_ORPHAN_GRACE
    batch: int = 20
    ledger_ids: frozenset[int] | None = None


def execute(
    store: LedgerStore,
    gateway: Gateway,
    flags: SyncFlags,
    operations: tuple[str, ...],
    *,
    run_id: str | None,
    options: ExecuteOptions | None = None,
    clock: Clock = utc_now,
) -> ExecutionReport:
    """Send the due ledger entries of ``operations`` on ``gateway.target``, obeying ``flags``."""
    opts = options or ExecuteOptions()
    report = ExecutionReport(gateway.target, operations)
    if not flags.may_send(gateway.target):
        report.skipped_reason = "dry_run" if flags.dry_run else f"sending to {gateway.target} is disabled"
        report.bump("due_not_sent", store.count_due(gateway.target, operations, clock(), ids=opts.ledger_ids))
        return report
    with store.worker(run_id) as worker:
        runner = _Runner(worker, gateway, flags, report, clock)
        try:
            for orphan in worker.recover_orphans(gateway.target, operations, now=clock(), grace=opts.orphan_grace,
                                                 ids=opts.ledger_ids):
                report.bump("orphans_recovered")
                runner.settle_orphan(orphan)
            while opts.max_claims is None or report.counts["claimed"] < opts.max_claims:
                claimed = worker.claim_next(gateway.target, operations, now=clock(), batch=opts.batch,
                                            ids=opts.ledger_ids)
                if claimed is None:
                    break
                report.bump("claimed")
                runner.process(*claimed)
        except CircuitOpenError as exc:
            report.stopped_early = str(exc)
        report.bump("superseded", worker.superseded)
    report.bump("due_not_sent", store.count_due(gateway.target, operations, clock(), ids=opts.ledger_ids))
    return report


class _Runner:
    """The per-entry steps of `execute`; every path ends in exactly one `LedgerWorker.finish`."""

    def __init__(self, worker: LedgerWorker, gateway: Gateway, flags: SyncFlags, report: ExecutionReport,
                 clock: Clock) -> None:
        self.worker, self.gateway, self.flags, self.report, self.clock = worker, gateway, flags, report, clock

    def fail(self, entry: LedgerEntry, error: SendError) -> None:
        after = self.worker.finish(entry, Failed(self.clock(), error.error_class, error.message, error.retry_after),
                                   details=error.details)
        self.report.errors.append(f"{entry.idempotency_key}: {error.message}")
        self.report.bump({"done": "already_done", "dead": "dead_letters"}.get(after.state.value, "failed"))

    def settle_orphan(self, orphan: LedgerEntry) -> None:
        """Resolve a ``sending`` entry left by a dead run: found -> done, absent -> due again (with lookup)."""
        try:
            found = self.gateway.lookup(orphan)
        except CircuitOpenError:
            self.fail(orphan, SendError(ErrorClass.RECOVERABLE, "circuit open while looking up an orphan"))
            raise
        except ClientError as exc:
            self.fail(orphan, classify_send_error(exc))
            return
        if found.outcome is LookupOutcome.UNSEARCHABLE:
            self.fail(orphan, _unsearchable(found))
            return
        self.worker.finish(orphan, LookedUp(self.clock(), found.target_id))
        if found.target_id is not None:
            self.report.bump("found_by_lookup")

    def process(self, before: LedgerEntry, entry: LedgerEntry) -> None:
        """Run one claimed entry; only the calls to the target are inside the error handling, so a
        ledger error can never be mistaken for a send error."""
        try:
            result = self._attempt(before, entry)
        except ClaimLostError as exc:  # the entry is someone else's now: record nothing on it
            self.worker.release(entry)
            self.report.errors.append(str(exc))
            self.report.bump("claims_lost")
            return
        except CircuitOpenError as exc:
            self.fail(entry, classify_send_error(exc))
            raise
        except PooledConnectionError:  # no claim can be trusted: stop the step, leave the entry to recovery
            raise
        except Exception as exc:  # every failure must be recorded on the claimed entry
            log.warning("%s failed: %s", entry.idempotency_key, exc)
            self.fail(entry, classify_send_error(exc))
            return
        if isinstance(result, SendError):
            self.fail(entry, result)
            return
        found, target_id = result
        if found:
            self.worker.finish(entry, LookedUp(self.clock(), target_id))
            self.report.bump("found_by_lookup")
            return
        self.worker.finish(entry, Succeeded(self.clock(), target_id))
        self.report.bump("sent")
        if entry.operation in CREATE_ONCE_OPERATIONS:
            self.report.bump("created")

    def _attempt(self, before: LedgerEntry, entry: LedgerEntry) -> tuple[bool, str | None] | SendError:
        """(found by lookup?, target id) or the reason not to send."""
        must_look = requires_lookup(before)
        found: Lookup | None = None
        if must_look:
            found = self.gateway.lookup(entry)
        elif ((self.flags.safe_mode and entry.operation in CREATE_ONCE_OPERATIONS)
              or (self.flags.pw_verify_strict and self.gateway.verify_by_lookup)):
            found = self.gateway.verify_lookup(entry)
        if found is not None:
            if found.outcome is LookupOutcome.FOUND:
                return True, found.target_id
            if found.outcome is LookupOutcome.UNSEARCHABLE and must_look:
                return _unsearchable(found)
        if self.flags.pw_verify_strict and (reason := self.gateway.verify(entry)) is not None:
            self.report.bump("verification_failed")
            return SendError(ErrorClass.PERMANENT, f"strict verification: {reason}",
                             details={"kind": "strict_verification"})
        return False, self.gateway.send(self.worker.confirm_claim(entry, self.clock()))


def _unsearchable(found: Lookup) -> SendError:
    return SendError(ErrorClass.PERMANENT,
                     f"may already be on the target and cannot be looked up there: {found.detail}; "
                     "check by hand, then resolve or replay", details={"kind": "unverifiable"})
