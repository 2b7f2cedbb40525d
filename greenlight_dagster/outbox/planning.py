"""Planning into the ledger - the first plan and the follow-ups - and the staged push between them.

``reconcile/push_plan`` plans everything the warehouse can map (`record_push_plan`). A fresh
world has work orders and lease tenants whose portfolio has no SF customer yet: the plan holds
them as ``awaiting_customer`` while it plans the portfolio's create. Once the push has created
that customer, its SF id is in the ledger (``target_id``), and `plan_follow_up` plans the
waiting candidates with it - tenants in ``push/sf_customers``, jobs in ``push/sf_jobs`` - and
`push_in_stages` sends them, so one sync does what used to take three (decision 0005).

A follow-up is an ordinary plan over fewer candidates, recorded before anything is sent, with
the same idempotency keys, so it cannot create what the first plan (or a concurrent run) did:

* it only adds rows (``withdraw_unplanned`` off): the first plan of the run already withdrew
  stale ones, and a follow-up sees a subset of the candidates, not the whole plan;
* its safe-mode cap starts from the creates this run already claimed plus those still due
  (the first plan's jobs, sent after the customers): the cap is per run, not per plan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.plan import HoldReason, PushPlan, build_push_plan
from greenlight_dagster.core.pw_api import SOAP_ONLY, PwApis
from greenlight_dagster.outbox.executor import Clock, ExecuteOptions, ExecutionReport, Gateway, execute, utc_now
from greenlight_dagster.warehouse.candidates import Candidates
from greenlight_dagster.warehouse.ledger_store import LedgerStore, PlanRecordResult


@dataclass(frozen=True)
class RecordedPlan:
    """A plan and what recording it did."""

    plan: PushPlan
    recorded: PlanRecordResult
    decisions_logged: int


def plan_against_ledger(store: LedgerStore, flags: SyncFlags, candidates: Candidates, *,
                        run_creates: int = 0, pw_apis: PwApis = SOAP_ONLY) -> PushPlan:
    """The plan of ``candidates`` against the ledger as it is now; records nothing (``greenlight preview``)."""
    return build_push_plan(flags, work_orders=candidates.work_orders, customers=candidates.customers,
                           progress=candidates.progress, ledger=store.ledger_for_plan(candidates.source_ids()),
                           run_creates=run_creates, pw_apis=pw_apis)


def record_push_plan(store: LedgerStore, flags: SyncFlags, candidates: Candidates, *, run_id: str | None,
                     now: datetime, run_creates: int = 0, withdraw_unplanned: bool = True,
                     pw_apis: PwApis = SOAP_ONLY) -> RecordedPlan:
    """Build the plan of ``candidates`` against the ledger, record its writes and dedup decisions."""
    plan = plan_against_ledger(store, flags, candidates, run_creates=run_creates, pw_apis=pw_apis)
    recorded = store.record_plan(plan.writes, now=now, run_id=run_id, withdraw_unplanned=withdraw_unplanned)
    logged = store.log_decisions(plan.decisions, target="sf", run_id=run_id, now=now)
    return RecordedPlan(plan, recorded, logged)


def plan_follow_up(store: LedgerStore, flags: SyncFlags, load: Callable[[], Candidates], *, run_id: str,
                   now: datetime) -> RecordedPlan | None:
    """Plan the candidates (from ``load``) that waited on a customer this run may have created.

    None when there is nothing to follow up: a run that sends nothing to SF (a dry run's preview
    already lists them as waiting, and without sends nothing changes), or no waiting candidates.
    """
    if not flags.may_send("sf"):
        return None
    waiting = load().waiting_on_customers()
    if not (waiting.work_orders or waiting.customers):
        return None
    return record_push_plan(store, flags, waiting, run_id=run_id, now=now,
                            run_creates=store.count_run_creates(run_id, "sf", now), withdraw_unplanned=False)


@dataclass
class StagedPush:
    """What `push_in_stages` did: the sends, and the follow-up plans between them."""

    report: ExecutionReport
    follow_up_planned: int = 0
    #: Hold reasons of the last follow-up plan (``already_done`` left out): what still waits.
    follow_up_held: dict[str, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        return {**self.report.as_metadata(), "follow_up_planned": self.follow_up_planned,
                "follow_up_held": dict(self.follow_up_held)}


def push_in_stages(store: LedgerStore, gateway: Gateway, flags: SyncFlags, operations: tuple[str, ...], *,
                   run_id: str, waiting: Callable[[], Candidates] | None,
                   options: Callable[[], ExecuteOptions], clock: Clock = utc_now) -> StagedPush:
    """Send the due entries of ``operations``; with ``waiting`` (loads the step's candidates),
    plan the follow-ups first and after every send, and send again while they add writes.

    ``options`` is called before every send, so the safe-mode cap sees the creates of the
    earlier stages. The loop ends because each follow-up can only add rows for new source ids.
    """
    pushed = StagedPush(ExecutionReport(gateway.target, operations))

    def plan_waiting() -> int:
        if waiting is None:
            return 0
        result = plan_follow_up(store, flags, waiting, run_id=run_id, now=clock())
        if result is None:
            return 0
        pushed.follow_up_planned += result.recorded.inserted
        pushed.follow_up_held = dict(Counter(h.reason.value for h in result.plan.held_back
                                             if h.reason is not HoldReason.ALREADY_DONE))
        return result.recorded.inserted

    plan_waiting()
    while True:
        pushed.report.absorb(execute(store, gateway, flags, operations, run_id=run_id, options=options(),
                                     clock=clock))
        if pushed.report.stopped_early or not plan_waiting():
            return pushed
