"""The safe-mode cap a push step has left: per run, over customer and job creates together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.idempotency import CREATE_ONCE_OPERATIONS
from greenlight_dagster.outbox.push_steps import remaining_creates
from greenlight_dagster.warehouse.ledger_store import LedgerStore


class _Claimed:
    """Answers `LedgerStore.count_claimed` with the creates the run already claimed."""

    def __init__(self, claimed: int) -> None:
        self.claimed = claimed
        self.asked: list[tuple[str, frozenset[str]]] = []

    def count_claimed(self, run_id: str, operations: Iterable[str]) -> int:
        self.asked.append((run_id, frozenset(operations)))
        return self.claimed


def _remaining(claimed: int, flags: SyncFlags, operations: tuple[str, ...]) -> tuple[int | None, _Claimed]:
    store = _Claimed(claimed)
    return remaining_creates(cast(LedgerStore, store), flags, "run-1", operations), store


def test_the_cap_counts_every_create_the_run_claimed() -> None:
    flags = SyncFlags(safe_mode=True, safe_mode_max_creates=5)
    left, store = _remaining(3, flags, ("create_job",))
    assert left == 2 and store.asked == [("run-1", frozenset(CREATE_ONCE_OPERATIONS))]
    assert _remaining(7, flags, ("create_customer",))[0] == 0  # never negative


def test_no_cap_outside_safe_mode_or_for_writes_that_create_nothing() -> None:
    assert _remaining(3, SyncFlags(safe_mode=False), ("create_job",))[0] is None
    left, store = _remaining(3, SyncFlags(safe_mode=True), ("update_work_order", "attach_note"))
    assert left is None and not store.asked
