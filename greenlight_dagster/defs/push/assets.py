"""``push/sf_customers``, ``push/sf_jobs``, ``push/pw_work_orders``: send the due ledger entries.

No ``from __future__ import annotations``: Dagster reads resource parameter types.

Each asset sends its operations with `sync.executor.execute`, in the pool of its API
(``servicefusion_api`` / ``propertyware_api``: one writer per external system at a time). The
flags are resolved again at the start of the step, so a flag changed between the plan and the
push (e.g. dry run switched on) still wins. In safe mode the per-run cap on creates counts the
creates this run already claimed (customers and jobs together).

The SF pushes send in stages so a fresh world converges in one sync (decision 0005): before
and after each send they plan the candidates that waited on a customer this run created
(`sync.planning.plan_follow_up`: tenants whose portfolio customer now exists, then jobs for
work orders whose customer now exists), record that plan, and send again while it adds writes.
"""

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Annotated, Any

import dagster as dg
from pydantic import Field
from sqlalchemy import text

from greenlight_dagster.core import alerts
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.idempotency import CREATE_ONCE_OPERATIONS
from greenlight_dagster.defs.alerts import notify
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource
from greenlight_dagster.defs.reconcile import PUSH_PLAN, SyncFlagsResource
from greenlight_dagster.defs.reconcile.assets import sf_job_category_names
from greenlight_dagster.defs.resources import WarehouseResource
from greenlight_dagster.defs.runs import run_kind
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.outbox.bulk_verify import (
    PlannedWorkOrders,
    SfCustomerSnapshot,
    SfJobSnapshot,
    WorkOrderSnapshot,
    bulk_work_order_verifier,
)
from greenlight_dagster.outbox.executor import ExecuteOptions, Gateway
from greenlight_dagster.outbox.gateways import (
    PropertyWareGateway,
    ServiceFusionGateway,
    WorkOrderVerifier,
    customer_search,
)
from greenlight_dagster.outbox.planning import push_in_stages
from greenlight_dagster.warehouse.candidates import (
    SYNC_SCHEMA,
    Candidates,
    customer_candidates,
    ingested_work_order,
    planned_work_order,
    work_order_candidates,
)
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster.warehouse.run_records import record_run
from greenlight_dagster.warehouse.watermarks import get_high_water

OWNERS = ["team:greenlight"]
SF_CUSTOMERS = dg.AssetKey(["push", "sf_customers"])
SF_JOBS = dg.AssetKey(["push", "sf_jobs"])
PW_WORK_ORDERS = dg.AssetKey(["push", "pw_work_orders"])
PW_OPERATIONS = ("update_work_order", "close_work_order", "attach_note")
#: The ingest's clock-skew overlap (`defs.ingest.IngestConfig.overlap_minutes`): the bulk reads of
#: strict verification and of the safe-mode job check start this long before the ingest's mark.
INGEST_OVERLAP = timedelta(minutes=5)


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


def remaining_creates(store: LedgerStore, flags: SyncFlags, run_id: str, operations: tuple[str, ...]) -> int | None:
    """The safe-mode cap left for this run's creates (None: no cap applies to ``operations``)."""
    if not flags.safe_mode or not set(operations) & CREATE_ONCE_OPERATIONS:
        return None
    return max(0, flags.safe_mode_max_creates - store.count_claimed(run_id, CREATE_ONCE_OPERATIONS))


def _run_push(context: dg.AssetExecutionContext, *, name: str, operations: tuple[str, ...], grace: timedelta,
              warehouse: WarehouseResource, sync_flags: SyncFlagsResource,
              gateway_for: Callable[[SyncFlags], Gateway],
              waiting: Callable[[], Candidates] | None = None) -> dg.MaterializeResult:
    """Send the due entries of ``operations``; with ``waiting`` (the step's candidates), in stages
    (`sync.planning.push_in_stages`)."""
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


def _work_order_snapshot(warehouse: WarehouseResource, client: Any) -> WorkOrderSnapshot:
    """PW work orders for strict verification: one bulk read of those changed since ingest (from the
    pw/work_orders high-water mark minus the overlap), else the warehouse's version (`sync.bulk_verify`).
    Without a mark (no incremental ingest yet) every work order is read on its own, as before."""
    engine = warehouse.get_engine()
    high_water = get_high_water(engine, "pw", "work_orders")

    def read_changed() -> Any:
        assert high_water is not None
        return client.iter_records("work_orders", modified_from=high_water - INGEST_OVERLAP)

    return WorkOrderSnapshot(get=client.get_work_order, stored=lambda wo_id: ingested_work_order(engine, wo_id),
                             read_changed=read_changed if high_water is not None else None)


def _work_order_verifier(warehouse: WarehouseResource, propertyware: PropertyWareResource, flags: SyncFlags,
                         log: Any) -> WorkOrderVerifier:
    """Strict verification of a job create: the current work order (from the step's bulk snapshot)
    against the warehouse copy the plan used (the job candidates view, read once per step)."""
    engine = warehouse.get_engine()
    snapshot = _work_order_snapshot(warehouse, propertyware.build_client(log))

    def read_all() -> Iterator[tuple[int, Mapping[str, Any]]]:
        with engine.connect() as conn:
            yield from ((int(wo_id), work_order) for wo_id, work_order in conn.execute(text(
                f'select work_order_id, work_order from "{SYNC_SCHEMA}"."sync_sf_job_creates"')))

    planned = PlannedWorkOrders(read_all, lambda wo_id: planned_work_order(engine, wo_id))
    return bulk_work_order_verifier(snapshot, planned, flags)


def _job_snapshot(warehouse: WarehouseResource, client: Any) -> SfJobSnapshot:
    """SF jobs for the safe-mode check before first creates: one read of those changed since the sf/jobs
    mark minus the overlap (decision 0007); without a mark, every create is looked up on its own."""
    high_water = get_high_water(warehouse.get_engine(), "sf", "jobs")

    def read_changed() -> Any:
        assert high_water is not None
        return client.iter_records("jobs", modified_from=high_water - INGEST_OVERLAP)

    return SfJobSnapshot(read_changed if high_water is not None else None)


def _customer_snapshot(warehouse: WarehouseResource, client: Any) -> SfCustomerSnapshot:
    """SF customers for the safe-mode check before first creates: one newest-first read of those changed
    since the sf/customers mark minus the overlap (decision 0008); without a mark, a name search per create."""
    high_water = get_high_water(warehouse.get_engine(), "sf", "customers")

    def read_changed() -> Any:
        assert high_water is not None
        return client.iter_records("customers", modified_from=high_water - INGEST_OVERLAP)

    return SfCustomerSnapshot(read_changed if high_water is not None else None)


def sf_gateway(flags: SyncFlags, log: Any, *, warehouse: WarehouseResource, servicefusion: ServiceFusionResource,
               propertyware: PropertyWareResource | None = None) -> ServiceFusionGateway:
    """The SF side of a push step (the push assets and the dead-letter replay): customers looked up
    by their PW stamp; in safe mode, first customer and job creates checked against one bulk read each
    of what SF changed since ingest (read only when the step asks); with ``propertyware`` and
    pw_verify_strict, job creates re-verified against PW."""
    client = servicefusion.build_client(log)
    verifier = (_work_order_verifier(warehouse, propertyware, flags, log)
                if flags.pw_verify_strict and propertyware is not None else None)
    return ServiceFusionGateway(client, verifier=verifier, customer_search=customer_search(client),
                                job_snapshot=_job_snapshot(warehouse, client) if flags.safe_mode else None,
                                customer_snapshot=_customer_snapshot(warehouse, client) if flags.safe_mode else None)


def pw_gateway(flags: SyncFlags, log: Any, *, warehouse: WarehouseResource,
               propertyware: PropertyWareResource) -> PropertyWareGateway:
    """The PW side of a push step; under pw_verify_strict its re-reads come from one bulk read."""
    client = propertyware.build_client(log)
    snapshot = _work_order_snapshot(warehouse, client) if flags.pw_verify_strict else None
    return PropertyWareGateway(client, snapshot=snapshot)


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
        return sf_gateway(flags, context.log, warehouse=warehouse, servicefusion=servicefusion)

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
        return sf_gateway(flags, context.log, warehouse=warehouse, servicefusion=servicefusion,
                          propertyware=propertyware)

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
        return pw_gateway(flags, context.log, warehouse=warehouse, propertyware=propertyware)

    return _run_push(context, name="pw_work_orders", operations=PW_OPERATIONS,
                     grace=config.grace(propertyware.orphan_grace()), warehouse=warehouse,
                     sync_flags=sync_flags, gateway_for=gateway)
