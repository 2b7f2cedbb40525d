"""Exactly-once when the connection is not what it seems (issue 17.6).

Claims are session-level advisory locks. Behind a transaction-mode pooler each transaction may
run on another server session, or several clients share one session (and re-enter each other's
locks), so the locks guard nothing. These tests stand in for a pooler with real connections:
the ledger must refuse such a connection, re-check its claim right before a send, and keep an
orphan grace longer than one write's worst case.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine

from greenlight_dagster.clients.resilience import RetryPolicy
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.ledger import LedgerEntry, LedgerState, orphan_grace
from greenlight_dagster.core.plan import PlannedWrite
from greenlight_dagster.core.pooler import transaction_pooler
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource
from greenlight_dagster.defs.push.assets import PushConfig
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.outbox.executor import ExecuteOptions, Lookup, execute
from greenlight_dagster.warehouse.ledger_store import (
    ClaimLostError,
    LedgerStore,
    LedgerWorker,
    PooledConnectionError,
)

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
JOBS = ("create_job",)


def job(wo_id: int) -> PlannedWrite:
    return PlannedWrite.of("sf", "create_job", wo_id, {"po_number": f"PW-{wo_id}", "description": "Leak"})


class TransactionPooler:
    """A transaction-mode pooler's client side: each statement runs on the next server session in turn."""

    def __init__(self, sessions: list[Connection]) -> None:
        self.sessions, self.turn = sessions, 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        session = self.sessions[self.turn % len(self.sessions)]
        self.turn += 1
        return session.execute(*args, **kwargs)


@pytest.fixture
def sessions(clean_ops: Engine) -> Iterator[list[Connection]]:
    opened = [clean_ops.connect().execution_options(isolation_level="AUTOCOMMIT") for _ in range(2)]
    yield opened
    for conn in opened:
        conn.invalidate()  # really closed: a pooled session would keep the test's advisory locks


def test_a_worker_whose_transactions_land_on_other_sessions_is_refused(store: LedgerStore,
                                                                       sessions: list[Connection]) -> None:
    worker = LedgerWorker(store, TransactionPooler(sessions), "r1")  # type: ignore[arg-type]
    with pytest.raises(PooledConnectionError, match="transaction-mode pooler"):
        worker.confirm_session()


def test_two_workers_sharing_one_session_cannot_both_send(store: LedgerStore, sessions: list[Connection]) -> None:
    """A pool of one server session shared by two runs: the second re-enters the first one's lock."""
    store.record_plan([job(9000)], now=T0)
    first = LedgerWorker(store, sessions[0], "first")
    claimed = first.claim_next("sf", JOBS, now=T0)
    assert claimed is not None
    second = LedgerWorker(store, sessions[0], "second")  # same server session, as the pooler hands it out
    (taken,) = second.recover_orphans("sf", JOBS, now=T0 + timedelta(hours=2), grace=timedelta(hours=1))
    assert taken.id == claimed[1].id  # the shared session's lock looked free to it: the old hazard
    with pytest.raises(PooledConnectionError, match="session mark replaced"):
        first.confirm_claim(claimed[1], T0 + timedelta(hours=2))


def test_a_known_transaction_pooler_url_is_refused_before_connecting() -> None:
    for url in ("postgresql+psycopg2://u:p@aws-0-eu-west-1.pooler.supabase.com:6543/postgres",
                "postgresql+psycopg2://u:p@gl.proxy-abc123.eu-west-1.rds.amazonaws.com:5432/greenlight"):
        with pytest.raises(PooledConnectionError, match="GREENLIGHT_WAREHOUSE_URL"), \
                LedgerStore(create_engine(url)).worker():
            pass
    assert transaction_pooler("aws-0-eu-west-1.pooler.supabase.com", 5432) is None  # session mode
    assert transaction_pooler("db.internal", 6543) is None


class TakenOverMidway:
    """A gateway whose strict verification lasts until another worker took the entry over."""

    target = "sf"
    verify_by_lookup = False

    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self.sent: list[str] = []

    def lookup(self, entry: LedgerEntry) -> Lookup:
        return Lookup.absent()

    def verify_lookup(self, entry: LedgerEntry) -> Lookup:
        return Lookup.absent()

    def verify(self, entry: LedgerEntry) -> str | None:
        # What recover_orphans does once the grace has passed: a guarded touch of the stale entry.
        assert self.store.touch(self.store.get(entry.id or 0), T0 + timedelta(hours=2)) is not None
        return None

    def send(self, entry: LedgerEntry) -> str | None:
        self.sent.append(entry.idempotency_key)
        return "8001"


def test_the_claim_is_re_checked_before_the_send(store: LedgerStore) -> None:
    store.record_plan([job(9000)], now=T0)
    gateway = TakenOverMidway(store)
    flags = SyncFlags(dry_run=False, enable_service_fusion=True, safe_mode=False, pw_verify_strict=True)
    report = execute(store, gateway, flags, JOBS, run_id="r1", options=ExecuteOptions(orphan_grace=timedelta(0)),
                     clock=lambda: T0)
    assert gateway.sent == [], report
    assert report.counts["claims_lost"] == 1 and report.counts["sent"] == 0, report
    assert store.entries()[0].state is LedgerState.SENDING  # left to its new owner's lookup


def test_a_confirmed_claim_is_touched_and_an_unclaimed_entry_refused(store: LedgerStore) -> None:
    store.record_plan([job(9000), job(9001)], now=T0)
    with store.worker("r1") as worker:
        claimed = worker.claim_next("sf", JOBS, now=T0)
        assert claimed is not None
        later = T0 + timedelta(minutes=3)
        assert worker.confirm_claim(claimed[1], later).updated_at == later
        assert store.get(claimed[1].id or 0).updated_at == later
        with pytest.raises(ClaimLostError):
            worker.confirm_claim(store.entries()[1], later)


def test_the_orphan_grace_outlasts_one_write_of_either_client() -> None:
    pw = PropertyWareResource(username="u", password="p")
    sf = ServiceFusionResource(client_id="c", client_secret="s")
    one_pw_call = RetryPolicy().worst_case_seconds(pw.timeout_seconds)  # 6 x 90 s + 5 x 30 s backoff cap
    assert pw.orphan_grace() > timedelta(seconds=one_pw_call) > timedelta(minutes=9)
    assert sf.orphan_grace() > timedelta(seconds=RetryPolicy().worst_case_seconds(sf.timeout_seconds))
    faster = PropertyWareResource(username="u", password="p", timeout_seconds=10, max_attempts=2)
    assert faster.orphan_grace() < pw.orphan_grace()  # derived from the settings, not a constant
    assert PushConfig().grace(pw.orphan_grace()) == pw.orphan_grace()
    assert PushConfig(orphan_grace_minutes=0).grace(pw.orphan_grace()) == timedelta(0)
    assert orphan_grace(60) == timedelta(minutes=2)
