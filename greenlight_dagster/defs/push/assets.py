"""``push/sf_customers``, ``push/sf_jobs``, ``push/pw_work_orders``: send the due ledger entries.

No ``from __future__ import annotations``: Dagster reads resource parameter types.

One step sends them all, in two lanes side by side (`lib.lanes`, decision 0021): SF customers then
SF jobs (jobs need their customers), and PW work orders; each lane is one request stream to its
API, and the step is in the ``external_apis`` pool (one such step at a time across runs). Each
asset sends its operations with `outbox.executor.execute`. The
flags are resolved again at the start of the step, so a flag changed between the plan and the
push (e.g. dry run switched on) still wins. In safe mode the per-run cap on creates counts the
creates this run already claimed (customers and jobs together).

The SF pushes send in stages so a fresh world converges in one sync (decision 0005): before
and after each send they plan the candidates that waited on a customer this run created
(`outbox.planning.plan_follow_up`: tenants whose portfolio customer now exists, then jobs for
work orders whose customer now exists), record that plan, and send again while it adds writes.
"""

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Annotated

import dagster as dg
from pydantic import Field
from sqlalchemy import Engine

from greenlight_dagster.core import alerts
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource
from greenlight_dagster.defs.reconcile.assets import PUSH_PLAN, sf_job_category_names
from greenlight_dagster.defs.reconcile.resources import SyncFlagsResource
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.lib.alerts import notify
from greenlight_dagster.lib.lanes import EXTERNAL_APIS_POOL, Lane, LaneLog, Task, run_lanes
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.lib.runs import run_kind
from greenlight_dagster.outbox.executor import ExecuteOptions, Gateway
from greenlight_dagster.outbox.planning import push_in_stages
from greenlight_dagster.outbox.push_steps import pw_gateway, remaining_creates, sf_gateway
from greenlight_dagster.warehouse.candidates import Candidates, customer_candidates, work_order_candidates
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster.warehouse.run_records import record_run

OWNERS = ["team:greenlight"]
SF_CUSTOMERS = dg.AssetKey(["push", "sf_customers"])
SF_JOBS = dg.AssetKey(["push", "sf_jobs"])
PW_WORK_ORDERS = dg.AssetKey(["push", "pw_work_orders"])
PW_OPERATIONS = ("update_work_order", "close_work_order", "attach_note")


#: How long a ``sending`` entry whose run died stays untouched before it is settled by lookup: 0 (at once)
#: to a day; negative would settle entries of live runs.
OrphanGraceMinutes = Annotated[float, Field(
    ge=0, le=24 * 60, description="A `sending` entry whose run died is settled by lookup once untouched this "
                                  "long (0-1440 minutes).")]


class PushConfig(dg.Config):
    """Run config of every push asset."""

    orphan_grace_minutes: OrphanGraceMinutes | None = None
    """A `sending` entry whose run died is settled by lookup once untouched this long. Unset: the
    client's worst-case write (timeouts x attempts + backoff; PW 62.5, SF 21 minutes by default).
    Shorter lets a send still in flight be looked up and sent again."""

    def grace(self, derived: timedelta) -> timedelta:
        return derived if self.orphan_grace_minutes is None else timedelta(minutes=self.orphan_grace_minutes)


def _run_push(context: dg.AssetExecutionContext, log: LaneLog, key: dg.AssetKey, *, operations: tuple[str, ...],
              grace: timedelta, engine: Engine, sync_flags: SyncFlagsResource,
              gateway_for: Callable[[SyncFlags], Gateway],
              waiting: Callable[[], Candidates] | None = None) -> dg.MaterializeResult:
    """Send the due entries of ``operations``; with ``waiting`` (the step's candidates), in stages
    (`outbox.planning.push_in_stages`). Runs in a lane: it logs to ``log``, never to ``context.log``."""
    began = time.monotonic()
    name = key.path[-1]
    flags = sync_flags.resolve(engine)
    store = LedgerStore(engine)
    pushed = push_in_stages(
        store, gateway_for(flags), flags, operations, run_id=context.run.run_id, waiting=waiting,
        options=lambda: ExecuteOptions(max_claims=remaining_creates(store, flags, context.run.run_id, operations),
                                       orphan_grace=grace))
    report = pushed.report
    for error in report.errors[:20]:
        log.warning(error)
    metadata = {**pushed.as_metadata(), "follow_up_held": dg.MetadataValue.json(pushed.follow_up_held),
                "flags": dg.MetadataValue.json(flags.as_dict()), "duration_seconds": round(time.monotonic() - began, 3)}
    record_run(engine, context.run.run_id, kind=run_kind(context.run.tags), flags=flags,
               stats={name: pushed.as_metadata()})
    notify(log, engine, context.run.run_id, lambda _: [alerts.new_dead_letters(
        name, context.run.run_id, report.errors, report.counts["dead_letters"])])
    if report.stopped_early:
        raise dg.Failure(f"{name} stopped: {report.stopped_early}", metadata=metadata)
    if report.skipped_reason:
        log.info(f"nothing sent ({report.skipped_reason}); {report.counts['due_not_sent']} entries are due")
    return dg.MaterializeResult(asset_key=key, metadata=metadata)


@dg.multi_asset(
    name="send_push_plan",
    specs=[
        dg.AssetSpec(SF_CUSTOMERS, deps=[PUSH_PLAN], group_name="push", kinds={"rest"}, owners=OWNERS,
                     description="Creates the planned ServiceFusion customers (PW portfolios as parents, lease "
                                 "tenants as children) from ops.sync_ledger. Sends only when dry_run is off and "
                                 "enable_service_fusion is on; an interrupted create is looked up (by the PW id "
                                 "stamped on the customer) before any retry. Tenants whose portfolio customer this "
                                 "run created are planned and sent right after it (follow-up plan)."),
        dg.AssetSpec(SF_JOBS, deps=[PUSH_PLAN, SF_CUSTOMERS], group_name="push", kinds={"rest"}, owners=OWNERS,
                     description="Creates the planned ServiceFusion jobs from ops.sync_ledger, at most one per PW "
                                 "work order ever: exclusive claims, a po_number lookup before any retry or after a "
                                 "crash, strict re-verification against PW (pw_verify_strict) and the safe-mode cap "
                                 "on creates per run. Work orders whose customer this run created are planned first "
                                 "(follow-up plan)."),
        dg.AssetSpec(PW_WORK_ORDERS, deps=[PUSH_PLAN], group_name="push", kinds={"soap"}, owners=OWNERS,
                     description="Sends SF job progress to PropertyWare from ops.sync_ledger: status updates "
                                 "(updateWorkOrder), closes (closeWorkOrder) and technician notes "
                                 "(attachNoteToWorkOrder), each distinct state once. Sends only when dry_run is off; "
                                 "under pw_verify_strict the work order is re-read first and left alone if PW already "
                                 "has the change."),
    ],
    can_subset=True,
    pool=EXTERNAL_APIS_POOL,
    description="Sends the push plan: ServiceFusion customers then jobs in one lane, PropertyWare work order "
                "updates in the other, side by side.",
)
def send_push_plan(context: dg.AssetExecutionContext, config: PushConfig, warehouse: WarehouseResource,
         sync_flags: SyncFlagsResource, servicefusion: ServiceFusionResource,
         propertyware: PropertyWareResource) -> Iterator[dg.MaterializeResult]:
    """SF customers then jobs in one lane (jobs need their customers), PW work orders in the other (`lib.lanes`)."""
    engine = warehouse.get_engine()
    selected = context.selected_asset_keys
    sf_grace, pw_grace = config.grace(servicefusion.orphan_grace()), config.grace(propertyware.orphan_grace())

    def sf_customers(log: LaneLog) -> dg.MaterializeResult:
        return _run_push(context, log, SF_CUSTOMERS, operations=("create_customer",), grace=sf_grace,
                         engine=engine, sync_flags=sync_flags,
                         gateway_for=lambda flags: sf_gateway(flags, engine, servicefusion.build_client(log)),
                         waiting=lambda: Candidates(customers=customer_candidates(engine)))

    def sf_jobs(log: LaneLog) -> dg.MaterializeResult:
        def waiting() -> Candidates:
            """Job candidates; the account's categories are read only when some wait on a customer."""
            if not Candidates(work_orders=work_order_candidates(engine)).waiting_on_customers().work_orders:
                return Candidates()
            return Candidates(work_orders=work_order_candidates(engine, sf_job_category_names(servicefusion, log)))

        return _run_push(context, log, SF_JOBS, operations=("create_job",), grace=sf_grace, engine=engine,
                         sync_flags=sync_flags,
                         gateway_for=lambda flags: sf_gateway(flags, engine, servicefusion.build_client(log),
                                                              propertyware=lambda: propertyware.build_client(log)),
                         waiting=waiting)

    def pw_work_orders(log: LaneLog) -> dg.MaterializeResult:
        return _run_push(context, log, PW_WORK_ORDERS, operations=PW_OPERATIONS, grace=pw_grace, engine=engine,
                         sync_flags=sync_flags,
                         gateway_for=lambda flags: pw_gateway(flags, engine, propertyware.build_client(log)))

    def lane(name: str, tasks: list[Task]) -> Lane:
        return Lane(name, [t for t in tasks if t.key in selected], stops_on_failure=True)

    yield from run_lanes(context.log, [
        lane("servicefusion", [Task(SF_CUSTOMERS, sf_customers), Task(SF_JOBS, sf_jobs)]),
        lane("propertyware", [Task(PW_WORK_ORDERS, pw_work_orders)]),
    ])
