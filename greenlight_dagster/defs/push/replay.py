"""The ``replay_dead_letters`` job's ops: replay chosen dead letters, then send them at once.

No ``from __future__ import annotations``: Dagster reads config and resource parameter types.

An operator launches the job from the UI with the dead letters to send again (ledger ids, or
all of them, optionally on one target). `outbox.replay.replay_dead_letters` - the same function
as ``greenlight dead-letters replay`` - puts them back to ``planned``; then one op per target
sends exactly those entries through the ordinary executor, each in its API's pool like the push
assets. The replayed entries keep their error class, so each is looked up on the target before
it is resent: a write that landed before is marked done, not sent twice. The flags apply as in
any push: under dry run (or SF disabled) the entries stay planned for the next sync.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from greenlight_dagster.core import alerts
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource
from greenlight_dagster.defs.push.assets import PushConfig
from greenlight_dagster.defs.reconcile.resources import SyncFlagsResource
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.lib.alerts import notify
from greenlight_dagster.lib.lanes import EXTERNAL_APIS_POOL
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.lib.runs import run_kind
from greenlight_dagster.outbox.executor import ExecuteOptions, Gateway
from greenlight_dagster.outbox.push_steps import pw_gateway, remaining_creates, sf_gateway
from greenlight_dagster.outbox.replay import ReplaySelectionError, replay_dead_letters, send_replayed
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster.warehouse.run_records import record_run


class ReplayConfig(dg.Config):
    """Which dead letters to send again (``greenlight dead-letters list`` shows their ids)."""

    ledger_ids: list[int] = []
    """Ledger ids of the dead letters to replay; leave empty and set ``all_dead_letters`` for all."""
    all_dead_letters: bool = False
    """Replay every dead letter not yet replayed (of ``target`` when set)."""
    target: str | None = None
    """Only writes to this system: ``sf`` or ``pw``."""


class SendReplayedConfig(PushConfig):
    """Run config of the send ops: the same orphan grace as the push assets."""


@dg.op(description="Puts the chosen dead letters back to planned (same path as `greenlight dead-letters replay`); "
                   "outputs their ledger ids. Fails if none of the chosen ids could be replayed.")
def replay_selected_dead_letters(context: dg.OpExecutionContext, config: ReplayConfig,
                                 warehouse: WarehouseResource) -> list[int]:
    if config.target not in (None, "sf", "pw"):
        raise dg.Failure(f"target must be sf or pw, not {config.target!r}")
    try:
        outcome = replay_dead_letters(LedgerStore(warehouse.get_engine()), ledger_ids=config.ledger_ids,
                                      replay_all=config.all_dead_letters, target=config.target,
                                      now=datetime.now(UTC))
    except ReplaySelectionError as exc:
        raise dg.Failure(f"{exc}: set ledger_ids, or all_dead_letters: true") from exc
    for failure in outcome.failures:
        context.log.warning(failure)
    if outcome.failures and not outcome.replayed:
        raise dg.Failure("nothing replayed: " + "; ".join(outcome.failures),
                         metadata={"failures": dg.MetadataValue.json(outcome.failures)})
    context.log.info(f"replayed {len(outcome.replayed)} of {len(outcome.requested)} dead letter(s)")
    context.add_output_metadata({"requested": len(outcome.requested), "replayed": len(outcome.replayed),
                                 "failures": dg.MetadataValue.json(outcome.failures)})
    return [entry.id for entry in outcome.replayed if entry.id is not None]


def _send(context: dg.OpExecutionContext, ledger_ids: list[int], *, target: str, grace: timedelta,
          warehouse: WarehouseResource, sync_flags: SyncFlagsResource,
          gateway_for: Callable[[SyncFlags], Gateway]) -> dict[str, Any]:
    """Send the replayed entries of ``target`` (`outbox.replay.send_replayed`) and record the run; the
    safe-mode cap on creates counts this run's creates as in a sync."""
    engine = warehouse.get_engine()
    store = LedgerStore(engine)
    entries = [entry for entry in map(store.get, ledger_ids) if entry.target == target]
    if not entries:
        return {"sent": 0}
    flags: SyncFlags = sync_flags.resolve(engine)
    operations = tuple(sorted({e.operation for e in entries}))
    report = send_replayed(store, gateway_for(flags), flags, entries, run_id=context.run.run_id, options=ExecuteOptions(
        max_claims=remaining_creates(store, flags, context.run.run_id, operations),
        orphan_grace=grace))
    for error in report.errors[:20]:
        context.log.warning(error)
    stats = report.as_metadata()
    record_run(engine, context.run.run_id, kind=run_kind(context.run.tags), flags=flags,
               stats={f"replay_{target}": stats})
    notify(context.log, engine, context.run.run_id, lambda _: [alerts.new_dead_letters(
        f"replay to {target}", context.run.run_id, report.errors, report.counts["dead_letters"])])
    if report.stopped_early:
        raise dg.Failure(f"replay to {target} stopped: {report.stopped_early}", metadata=stats)
    if report.skipped_reason:
        context.log.info(f"nothing sent to {target} ({report.skipped_reason}); the replayed entries are planned "
                         "and the next sync sends them")
    context.add_output_metadata({**stats, "flags": dg.MetadataValue.json(flags.as_dict())})
    return stats


@dg.op(pool=EXTERNAL_APIS_POOL, description="Sends the replayed ServiceFusion writes: each is looked up on SF "
                                             "first (po_number / PW stamp), then created only if absent.")
def send_replayed_sf(context: dg.OpExecutionContext, ledger_ids: list[int], config: SendReplayedConfig,
                     warehouse: WarehouseResource, sync_flags: SyncFlagsResource,
                     servicefusion: ServiceFusionResource, propertyware: PropertyWareResource) -> dict[str, Any]:
    return _send(context, ledger_ids, target="sf", grace=config.grace(servicefusion.orphan_grace()),
                 warehouse=warehouse, sync_flags=sync_flags,
                 gateway_for=lambda flags: sf_gateway(
                     flags, warehouse.get_engine(), servicefusion.build_client(context.log),
                     propertyware=lambda: propertyware.build_client(context.log)))


@dg.op(pool=EXTERNAL_APIS_POOL, description="Sends the replayed PropertyWare writes: each work order is read "
                                            "first and left alone if it already has the change.")
def send_replayed_pw(context: dg.OpExecutionContext, ledger_ids: list[int], config: SendReplayedConfig,
                     warehouse: WarehouseResource, sync_flags: SyncFlagsResource,
                     propertyware: PropertyWareResource) -> dict[str, Any]:
    return _send(context, ledger_ids, target="pw", grace=config.grace(propertyware.orphan_grace()),
                 warehouse=warehouse, sync_flags=sync_flags,
                 gateway_for=lambda flags: pw_gateway(flags, warehouse.get_engine(),
                                                      propertyware.build_client(context.log)))
