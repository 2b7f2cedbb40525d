"""``push/sf_customers``, ``push/sf_jobs``, ``push/pw_work_orders``: send the due ledger entries.

No ``from __future__ import annotations``: Dagster reads resource parameter types.

Each asset sends its operations with `outbox.executor.execute`, in the pool of its API
(``servicefusion_api`` / ``propertyware_api``: one writer per external system at a time). The
flags are resolved again at the start of the step, so a flag changed between the plan and the
push (e.g. dry run switched on) still wins. In safe mode the per-run cap on creates counts the
creates this run already claimed (customers and jobs together).

The SF pushes send in stages so a fresh world converges in one sync (decision 0005): before
and after each send they plan the candidates that waited on a customer this run created
(`outbox.planning.plan_follow_up`: tenants whose portfolio customer now exists, then jobs for
work orders whose customer now exists), record that plan, and send again while it adds writes.
"""

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

import dagster as dg
from pydantic import Field

from greenlight_dagster.core import alerts
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource
from greenlight_dagster.defs.reconcile.assets import PUSH_PLAN, sf_job_category_names
from greenlight_dagster.defs.reconcile.resources import SyncFlagsResource
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.lib.alerts import notify
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


def _run_push(context: dg.AssetExecutionContext, *, name: str, operations: tuple[str, ...], grace: timedelta,
              warehouse: WarehouseResource, sync_flags: SyncFlagsResource,
              gateway_for: Callable[[SyncFlags], Gateway],
              waiting: Callable[[], Candidates] | None = None) -> dg.MaterializeResult:
    """Send the due entries of ``operations``; with ``waiting`` (the step's candidates), in stages
    (`outbox.planning.push_in_stages`)."""
    began = time.monotonic()
    engine = warehouse.get_engine()
    flags = sync_flags.resolve(engine)
    store = LedgerStore(engine)
    pushed = push_in_stages(
        store, gateway_for(flags), flags, operations, run_id=context.run.run_id, waiting=waiting,
        options=lambda: ExecuteOptions(max_claims=remaining_creates(store, flags, context.run.run_id, operations),
                                       orphan_grace=grace))
    report = pushed.report
    for error in report.errors[:20]:
        context.log.warning(error)
    metadata = {**pushed.as_metadata(), "follow_up_held": dg.MetadataValue.json(pushed.follow_up_held),
                "flags": dg.MetadataValue.json(flags.as_dict()), "duration_seconds": round(time.monotonic() - began, 3)}
    record_run(engine, context.run.run_id, kind=run_kind(context.run.tags), flags=flags,
               stats={name: pushed.as_metadata()})
    notify(context.log, engine, context.run.run_id, lambda _: [alerts.new_dead_letters(
        name, context.run.run_id, report.errors, report.counts["dead_letters"])])
    if report.stopped_early:
        raise dg.Failure(f"{name} stopped: {report.stopped_early}", metadata=metadata)
    if report.skipped_reason:
        context.log.info(f"{name}: nothing sent ({report.skipped_reason}); "
                         f"{report.counts['due_not_sent']} entries are due")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(key=SF_CUSTOMERS, deps=[PUSH_PLAN], group_name="push", kinds={"rest"}, owners=OWNERS,
          pool="servicefusion_api",
          description="Creates the planned ServiceFusion customers (PW portfolios as parents, lease tenants as "
                      "children) from ops.sync_ledger. Sends only when dry_run is off and enable_service_fusion is "
                      "on; an interrupted create is looked up (by the PW id stamped on the customer) before any "
                      "retry. Tenants whose portfolio customer this run created are planned and sent right after "
                      "it (follow-up plan).")
def sf_customers(context: dg.AssetExecutionContext, config: PushConfig, warehouse: WarehouseResource,
                 sync_flags: SyncFlagsResource, servicefusion: ServiceFusionResource) -> dg.MaterializeResult:
    def gateway(flags: SyncFlags) -> Gateway:
        return sf_gateway(flags, warehouse.get_engine(), servicefusion.build_client(context.log))

    def waiting() -> Candidates:
        return Candidates(customers=customer_candidates(warehouse.get_engine()))

    return _run_push(context, name="sf_customers", operations=("create_customer",),
                     grace=config.grace(servicefusion.orphan_grace()),
                     warehouse=warehouse, sync_flags=sync_flags, gateway_for=gateway, waiting=waiting)


@dg.asset(key=SF_JOBS, deps=[PUSH_PLAN, SF_CUSTOMERS], group_name="push", kinds={"rest"}, owners=OWNERS,
          pool="servicefusion_api",
          description="Creates the planned ServiceFusion jobs from ops.sync_ledger, at most one per PW work order "
                      "ever: exclusive claims, a po_number lookup before any retry or after a crash, strict "
                      "re-verification against PW (pw_verify_strict) and the safe-mode cap on creates per run. Work "
                      "orders whose customer this run created are planned first (follow-up plan).")
def sf_jobs(context: dg.AssetExecutionContext, config: PushConfig, warehouse: WarehouseResource,
            sync_flags: SyncFlagsResource, servicefusion: ServiceFusionResource,
            propertyware: PropertyWareResource) -> dg.MaterializeResult:
    def gateway(flags: SyncFlags) -> Gateway:
        return sf_gateway(flags, warehouse.get_engine(), servicefusion.build_client(context.log),
                          propertyware=lambda: propertyware.build_client(context.log))

    def waiting() -> Candidates:
        """Job candidates; the account's categories are read only when some wait on a customer."""
        engine = warehouse.get_engine()
        if not Candidates(work_orders=work_order_candidates(engine)).waiting_on_customers().work_orders:
            return Candidates()
        return Candidates(work_orders=work_order_candidates(engine, sf_job_category_names(servicefusion, context.log)))

    return _run_push(context, name="sf_jobs", operations=("create_job",),
                     grace=config.grace(servicefusion.orphan_grace()), warehouse=warehouse,
                     sync_flags=sync_flags, gateway_for=gateway, waiting=waiting)


@dg.asset(key=PW_WORK_ORDERS, deps=[PUSH_PLAN], group_name="push", kinds={"soap"}, owners=OWNERS,
          pool="propertyware_api",
          description="Sends SF job progress to PropertyWare from ops.sync_ledger: status updates "
                      "(updateWorkOrder), closes (closeWorkOrder) and technician notes (attachNoteToWorkOrder), "
                      "each distinct state once. Sends only when dry_run is off; under pw_verify_strict the work "
                      "order is re-read first and left alone if PW already has the change.")
def pw_work_orders(context: dg.AssetExecutionContext, config: PushConfig, warehouse: WarehouseResource,
                   sync_flags: SyncFlagsResource, propertyware: PropertyWareResource) -> dg.MaterializeResult:
    def gateway(flags: SyncFlags) -> Gateway:
        return pw_gateway(flags, warehouse.get_engine(), propertyware.build_client(context.log))

    return _run_push(context, name="pw_work_orders", operations=PW_OPERATIONS,
                     grace=config.grace(propertyware.orphan_grace()), warehouse=warehouse,
                     sync_flags=sync_flags, gateway_for=gateway)
