"""Replaying dead letters: back into the ledger, then sent by the same path as any write.

`greenlight dead-letters replay` and the ``replay_dead_letters`` Dagster job both call
`replay_dead_letters`: each chosen dead letter goes back to ``planned`` through
`LedgerStore.replay`, keeping its error class, so whichever executor sends it next looks the
record up on the target first (`core.ledger.requires_lookup`) - a write that did land before is
marked done, never sent twice. The CLI stops there (the next sync sends it); the job sends
right away with `send_replayed`, which runs the ordinary executor over exactly the replayed
entries of one target (claim -> lookup -> send -> record).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.ledger import IllegalTransitionError, LedgerEntry, LedgerState
from greenlight_dagster.outbox.executor import Clock, ExecuteOptions, ExecutionReport, Gateway, execute, utc_now
from greenlight_dagster.warehouse.ledger_store import LedgerStore, UnknownLedgerEntryError


class ReplaySelectionError(ValueError):
    """The selection names neither ledger ids nor "all", or both."""


@dataclass
class ReplayOutcome:
    """What `replay_dead_letters` did: the entries now planned again, and why the others were not."""

    requested: list[int] = field(default_factory=list)
    replayed: list[LedgerEntry] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def ids_for(self, target: str) -> frozenset[int]:
        return frozenset(e.id for e in self.replayed if e.target == target and e.id is not None)


def replay_dead_letters(store: LedgerStore, *, ledger_ids: Sequence[int] = (), replay_all: bool = False,
                        target: str | None = None, now: datetime) -> ReplayOutcome:
    """Put the chosen dead letters back to ``planned``: ``ledger_ids``, or every dead letter not yet
    replayed (``replay_all``), in both cases only those on ``target`` when it is given.

    An id that is not a ledger entry, not a dead letter, or on another target is reported in
    ``failures`` and left as it is; the others are replayed regardless.
    """
    if bool(ledger_ids) == replay_all:
        raise ReplaySelectionError("give dead letter ids or all (not both)")
    outcome = ReplayOutcome()
    if replay_all:
        outcome.requested = [letter.entry.id for letter in store.dead_letters() if letter.entry.id is not None
                             and (target is None or letter.entry.target == target)]
    else:
        outcome.requested = list(dict.fromkeys(ledger_ids))
    for entry_id in outcome.requested:
        try:
            entry = store.get(entry_id)
            if target is not None and entry.target != target:
                outcome.failures.append(f"{entry_id} is a write to {entry.target}, not to {target}")
                continue
            replayed = store.replay(entry_id, now=now)
            if replayed.state is LedgerState.SUPERSEDED:
                outcome.failures.append(f"{entry_id} is not replayed: {replayed.last_error}")
                continue
            outcome.replayed.append(replayed)
        except UnknownLedgerEntryError:
            outcome.failures.append(f"{entry_id} is not a ledger entry (see `greenlight dead-letters list`)")
        except IllegalTransitionError:
            entry = store.get(entry_id)
            if entry.state is LedgerState.SUPERSEDED:
                outcome.failures.append(f"{entry_id} is not replayed: {entry.last_error}")
            else:
                outcome.failures.append(f"{entry_id} is {entry.state.value}, not a dead letter")
    return outcome


def send_replayed(store: LedgerStore, gateway: Gateway, flags: SyncFlags, entries: Iterable[LedgerEntry], *,
                  run_id: str, options: ExecuteOptions | None = None, clock: Clock = utc_now) -> ExecutionReport:
    """Send the replayed ``entries`` on ``gateway.target`` (and nothing else) through `execute`."""
    mine = [e for e in entries if e.target == gateway.target and e.id is not None]
    operations = tuple(sorted({e.operation for e in mine}))
    if not mine:
        return ExecutionReport(gateway.target, operations)
    ids = frozenset(e.id for e in mine if e.id is not None)
    return execute(store, gateway, flags, operations, run_id=run_id,
                   options=replace(options or ExecuteOptions(), ledger_ids=ids), clock=clock)
