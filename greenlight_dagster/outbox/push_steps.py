"""What a push step sends through: the gateways to SF and PW, with the bulk snapshots they verify
against, and the safe-mode cap on creates left to the step.

The push assets and the dead-letter replay ops both send through these, so a replayed write is
checked exactly as a planned one. They take built clients and the warehouse engine, not Dagster
resources: the Dagster side only reads its resources and calls them.

The bulk reads start `DEFAULT_OVERLAP` before the ingest's high-water mark, the ingest's own
default overlap, so they cover every change the ingest may not have landed yet. Without a mark
(no incremental ingest yet) each record is read on its own instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import Engine

from greenlight_dagster.clients.pw_facade import PropertyWare
from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.servicefusion import ServiceFusionClient
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.idempotency import CREATE_ONCE_OPERATIONS
from greenlight_dagster.outbox.bulk_verify import (
    PlannedWorkOrders,
    SfCustomerSnapshot,
    SfJobSnapshot,
    WorkOrderSnapshot,
    bulk_work_order_verifier,
)
from greenlight_dagster.outbox.gateways import (
    PropertyWareGateway,
    ServiceFusionGateway,
    WorkOrderVerifier,
    customer_search,
)
from greenlight_dagster.warehouse.candidates import ingested_work_order, planned_work_order, planned_work_orders
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster.warehouse.watermarks import DEFAULT_OVERLAP, get_high_water

Records = Iterable[SourceRecord | RejectedRecord]


def remaining_creates(store: LedgerStore, flags: SyncFlags, run_id: str, operations: tuple[str, ...]) -> int | None:
    """The safe-mode cap left for this run's creates (None: no cap applies to ``operations``).

    The cap is per run, so it counts the creates the run already claimed in earlier steps
    (customers and jobs together): a run cannot exceed it by splitting creates across steps.
    """
    if not flags.safe_mode or not set(operations) & CREATE_ONCE_OPERATIONS:
        return None
    return max(0, flags.safe_mode_max_creates - store.count_claimed(run_id, CREATE_ONCE_OPERATIONS))


def work_order_snapshot(engine: Engine, client: PropertyWare) -> WorkOrderSnapshot:
    """PW work orders for strict verification: one bulk read of those changed since ingest, else the
    warehouse's version (`outbox.bulk_verify`), so a step costs one read instead of one per write."""
    high_water = get_high_water(engine, "pw", "work_orders")

    def read_changed() -> Records:
        assert high_water is not None
        return client.iter_records("work_orders", modified_from=high_water - DEFAULT_OVERLAP)

    return WorkOrderSnapshot(get=client.get_work_order, stored=lambda wo_id: ingested_work_order(engine, wo_id),
                             read_changed=read_changed if high_water is not None else None)


def work_order_verifier(engine: Engine, client: PropertyWare, flags: SyncFlags) -> WorkOrderVerifier:
    """Strict verification of a job create: the current work order (from the step's bulk snapshot)
    against the warehouse copy the plan used (the job candidates view, read once per step), so a
    work order changed in PW since planning is not turned into a job."""
    planned = PlannedWorkOrders(lambda: planned_work_orders(engine), lambda wo_id: planned_work_order(engine, wo_id))
    return bulk_work_order_verifier(work_order_snapshot(engine, client), planned, flags)


def job_snapshot(engine: Engine, client: ServiceFusionClient) -> SfJobSnapshot:
    """SF jobs for the safe-mode check before first creates: one read of those changed since the sf/jobs
    mark (decision 0007), instead of a lookup per create."""
    high_water = get_high_water(engine, "sf", "jobs")

    def read_changed() -> Records:
        assert high_water is not None
        return client.iter_records("jobs", modified_from=high_water - DEFAULT_OVERLAP)

    return SfJobSnapshot(read_changed if high_water is not None else None)


def customer_snapshot(engine: Engine, client: ServiceFusionClient) -> SfCustomerSnapshot:
    """SF customers for the safe-mode check before first creates: one newest-first read of those changed
    since the sf/customers mark (decision 0008), instead of a name search per create."""
    high_water = get_high_water(engine, "sf", "customers")

    def read_changed() -> Records:
        assert high_water is not None
        return client.iter_records("customers", modified_from=high_water - DEFAULT_OVERLAP)

    return SfCustomerSnapshot(read_changed if high_water is not None else None)


def sf_gateway(flags: SyncFlags, engine: Engine, client: ServiceFusionClient, *,
               propertyware: Callable[[], PropertyWare] | None = None) -> ServiceFusionGateway:
    """The SF side of a push step: customers looked up by their PW stamp; in safe mode, first customer
    and job creates checked against one bulk read each of what SF changed since ingest (read only when
    the step asks); with ``propertyware`` and pw_verify_strict, job creates re-verified against PW.

    ``propertyware`` builds the PW client, so a step that does not verify never opens one.
    """
    verifier = (work_order_verifier(engine, propertyware(), flags)
                if flags.pw_verify_strict and propertyware is not None else None)
    return ServiceFusionGateway(client, verifier=verifier, customer_search=customer_search(client),
                                job_snapshot=job_snapshot(engine, client) if flags.safe_mode else None,
                                customer_snapshot=customer_snapshot(engine, client) if flags.safe_mode else None)


def pw_gateway(flags: SyncFlags, engine: Engine, client: PropertyWare) -> PropertyWareGateway:
    """The PW side of a push step; under pw_verify_strict its re-reads come from one bulk read."""
    snapshot = work_order_snapshot(engine, client) if flags.pw_verify_strict else None
    return PropertyWareGateway(client, snapshot=snapshot)
