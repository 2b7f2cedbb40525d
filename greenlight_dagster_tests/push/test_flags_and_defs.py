"""Flags resolution (environment < ops.flags < the run) and the Dagster wiring of reconcile/push."""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy import Engine, select

from greenlight_dagster.defs.propertyware.resources import resources as pw_resources
from greenlight_dagster.defs.push.assets import send_push_plan
from greenlight_dagster.defs.reconcile.assets import attention_items, dead_letters, no_duplicate_sf_jobs, push_plan
from greenlight_dagster.defs.reconcile.resources import SyncFlagsResource
from greenlight_dagster.defs.reconcile.resources import resources as reconcile_resources
from greenlight_dagster.defs.servicefusion.resources import resources as sf_resources
from greenlight_dagster.lib.lanes import EXTERNAL_APIS_POOL
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.warehouse.flag_store import set_override, stored_overrides
from greenlight_dagster.warehouse.run_records import record_run
from greenlight_dagster.warehouse.tables import sync_runs


def test_stored_overrides_beat_the_environment_and_the_run_beats_both(
        clean_ops: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENLIGHT_DRY_RUN", "false")
    monkeypatch.setenv("GREENLIGHT_SAFE_MODE", "false")
    monkeypatch.setenv("GREENLIGHT_ENABLE_SERVICE_FUSION", "true")
    set_override(clean_ops, "dry_run", "true", updated_by="ops")
    assert stored_overrides(clean_ops) == {"dry_run": "true"}
    flags = SyncFlagsResource().resolve(clean_ops)
    assert (flags.dry_run, flags.safe_mode, flags.enable_service_fusion) == (True, False, True)
    flags = SyncFlagsResource(dry_run=False, pw_open_statuses="Open, Scheduled, In Progress").resolve(clean_ops)
    assert flags.dry_run is False and flags.pw_open_statuses == ("Open", "Scheduled", "In Progress")


def test_a_bad_override_is_refused_not_ignored(clean_ops: Engine) -> None:
    with pytest.raises(ValueError, match="GREENLIGHT_DRY_RUN"):
        set_override(clean_ops, "dry_run", "maybe")
    with pytest.raises(ValueError, match="unknown flag"):
        set_override(clean_ops, "dryrun", "true")


def test_each_run_records_its_flags_and_merges_step_stats(clean_ops: Engine) -> None:
    flags = SyncFlagsResource(dry_run=True).resolve(clean_ops)
    record_run(clean_ops, "run-1", kind="sync", flags=flags, stats={"push_plan": {"planned": 3}})
    record_run(clean_ops, "run-1", kind="sync", flags=flags, stats={"sf_jobs": {"sent": 0}})
    with clean_ops.connect() as conn:
        row = conn.execute(select(sync_runs.c.flags, sync_runs.c.stats).where(sync_runs.c.run_id == "run-1")).one()
    assert row.flags["dry_run"] is True
    assert row.stats == {"push_plan": {"planned": 3}, "sf_jobs": {"sent": 0}}


def test_reconcile_and_push_definitions_load() -> None:
    defs = dg.Definitions(assets=[push_plan, send_push_plan],
                          asset_checks=[no_duplicate_sf_jobs, dead_letters, attention_items],
                          resources={"warehouse": WarehouseResource(), **reconcile_resources,
                                     **sf_resources, **pw_resources})
    graph = defs.resolve_asset_graph()
    jobs_node = graph.get(dg.AssetKey(["push", "sf_jobs"]))
    assert {key.to_user_string() for key in jobs_node.parent_keys} == {"reconcile/push_plan", "push/sf_customers"}
    assert jobs_node.pools == {EXTERNAL_APIS_POOL}
    assert graph.get(dg.AssetKey(["push", "pw_work_orders"])).pools == {EXTERNAL_APIS_POOL}
    assert {key.name for key in graph.asset_check_keys} == {
        "no_duplicate_sf_jobs", "dead_letters", "attention_items"}


def test_the_replay_job_is_in_the_code_location_its_senders_in_the_external_apis_pool() -> None:
    from greenlight_dagster.definitions import load_definitions

    job = load_definitions().resolve_job_def("replay_dead_letters")
    pools = {node.name: node.definition.pool for node in job.nodes}
    assert pools == {"replay_selected_dead_letters": None, "send_replayed_sf": EXTERNAL_APIS_POOL,
                     "send_replayed_pw": EXTERNAL_APIS_POOL}
