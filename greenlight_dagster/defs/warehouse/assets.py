"""The dbt project as Dagster assets: every model, snapshot and seed an asset, every dbt test a check.

One materialization is one ``dbt build`` over the selected subset (dagster-dbt turns the
selection into ``--select``): dbt costs ~3 s to start here, so the warehouse is never built
node by node. Of that subset, only the nodes whose inputs changed since their last build are
built; the others are *reused* (an Output with ``status: reused``, so downstream steps run) and
when nothing changed dbt does not start at all (decision 0017, ``rebuild_all`` forces a build).
Each build's parse is kept for the next (`keep_partial_parse`): dbt re-parses only changed files.
``dbt build`` runs seeds, snapshots, models and tests in dependency order and
skips what depends on a failed node, which is what keeps a bad load from reaching the marts.

The asset takes the shared ``warehouse`` resource so that the migrations (``raw``/``ops``
schemas) have run before dbt starts, and dbt builds exactly that resource's database.
After ``map_customer`` is built its coverage per entity type is attached as metadata: coverage
is a metric operators watch (docs/architecture.md §6), not a number to dig out of SQL.

The dbt assets are not partitioned (history is one table, not one per day), but they run inside
the partitioned ``sync`` and ``backfill`` jobs. When a run covers a past range of daily
partitions (a backfill), its time window goes to dbt as the vars ``window_start`` /
``window_end``, and the incremental marts rebuild the keys with versions in that window as well
as what changed (macros/incremental_window.sql). Today's partition is the regular sync: no vars.

One ``dbt build`` at a time, across runs: the step is in the ``warehouse_dbt`` pool (one slot, the
instance's ``default_limit``). A backfill of a date range is several runs (the partitioned raw
assets, then the dbt assets downstream of them and of the unpartitioned ones), and two builds
side by side re-create each other's views - a test of one failed on "relation
staging.stg_pw_work_orders does not exist" while the other was replacing it (issue 20).
"""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import dbt_assets
from sqlalchemy import Engine

from greenlight_dagster.core.build_plan import NodeMark
from greenlight_dagster.defs.warehouse.project import dbt_project
from greenlight_dagster.defs.warehouse.resources import WarehouseDbtCliResource, keep_partial_parse
from greenlight_dagster.defs.warehouse.translator import WAREHOUSE_GROUP, WarehouseTranslator
from greenlight_dagster.lib.ingest import DAILY_PARTITIONS, latest_partition_key
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.warehouse.build_marks import record_builds
from greenlight_dagster.warehouse.dbt_graph import WarehouseNodes
from greenlight_dagster.warehouse.incremental_build import decide_build
from greenlight_dagster.warehouse.run_measures import customer_mapping, overall_coverage

MAP_CUSTOMER_KEY = dg.AssetKey([WAREHOUSE_GROUP, "map_customer"])
#: Concurrency pool of the dbt step (module docstring).
WAREHOUSE_POOL = "warehouse_dbt"


def coverage_metadata(engine: Engine) -> dict[str, Any]:
    """Coverage of ``marts.map_customer`` per entity type, as Dagster metadata."""
    parts = customer_mapping(engine)
    overall = overall_coverage(parts)
    metadata: dict[str, Any] = {
        "coverage": dg.MetadataValue.float(overall.ratio),
        "unmapped_entities": dg.MetadataValue.int(overall.total - overall.mapped),
    }
    for part in parts:
        metadata[f"coverage_{part.entity_type}"] = dg.MetadataValue.float(part.ratio)
    return metadata


def partition_window_vars(context: AssetExecutionContext) -> dict[str, str]:
    """dbt vars of a backfill run's partition window; empty for an unpartitioned run or one reaching today."""
    if not context.has_partition_key_range and not context.has_partition_key:
        return {}
    keys = context.partition_key_range
    if keys.end >= latest_partition_key():
        return {}
    return {
        "window_start": DAILY_PARTITIONS.time_window_for_partition_key(keys.start).start.isoformat(),
        "window_end": DAILY_PARTITIONS.time_window_for_partition_key(keys.end).end.isoformat(),
    }


class WarehouseBuildConfig(dg.Config):
    """Run config of the dbt step."""

    rebuild_all: bool = False
    """Build every selected node, even one whose dbt files and upstream tables are as at its last build."""


def _reused_output(context: AssetExecutionContext, key: dg.AssetKey, mark: NodeMark | None,
                   engine: Engine) -> dg.Output[None]:
    """The Output of a node left as its last build made it: downstream steps run, the UI says why."""
    metadata: dict[str, Any] = {
        "status": "reused",
        "reason": "no new rows upstream and no dbt project change since its last build",
        "built_by_run": mark.run_id if mark else "",
    }
    if key == MAP_CUSTOMER_KEY:
        metadata.update(coverage_metadata(engine))
    return dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_key(key), metadata=metadata)


def _reused_check_results(context: AssetExecutionContext, evaluated: set[dg.AssetCheckKey],
                          built_by: set[str]) -> Iterator[dg.AssetCheckResult]:
    """The latest outcome of each selected check dbt did not run (its node was reused, the data it tests is
    unchanged), marked as reused: Dagster expects a result for every selected check, and an operator
    reading the run should see a failing test still failing, not vanish.

    The outcome is looked up in ``built_by``, the runs that last built the reused nodes (a test runs
    when a node it reads is built): one query per run, not one per check.
    """
    wanted = set(context.selected_asset_check_keys) - evaluated
    latest: dict[dg.AssetCheckKey, tuple[float, str, dg.AssetCheckEvaluation]] = {}
    for run_id in sorted(built_by):
        for entry in context.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.asset_check_evaluation_data if entry.dagster_event else None
            if evaluation is not None and evaluation.asset_check_key in wanted and \
                    entry.timestamp > latest.get(evaluation.asset_check_key, (0.0,))[0]:
                latest[evaluation.asset_check_key] = (entry.timestamp, run_id, evaluation)
    for key, (_, run_id, evaluation) in sorted(latest.items(), key=lambda item: item[0].to_user_string()):
        yield dg.AssetCheckResult(
            asset_key=key.asset_key, check_name=key.name, passed=evaluation.passed, severity=evaluation.severity,
            metadata={**evaluation.metadata, "status": "reused", "evaluated_by_run": run_id})


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=WarehouseTranslator(),
    name="dbt_warehouse",
    pool=WAREHOUSE_POOL,
)
def dbt_warehouse_assets(
    context: AssetExecutionContext, dbt: WarehouseDbtCliResource, warehouse: WarehouseResource,
    config: WarehouseBuildConfig,
) -> Iterator[Any]:
    """``dbt build`` of the selected nodes whose inputs changed (decision 0017), streaming results."""
    engine = warehouse.get_engine()  # runs the migrations once per process: raw/ops exist
    window = partition_window_vars(context)
    manifest = json.loads(dbt_project.manifest_path.read_text())
    translator = WarehouseTranslator()
    nodes = WarehouseNodes.from_manifest(manifest)
    node_by_key = {translator.get_asset_key(manifest["nodes"][uid]): uid for uid in nodes.names}
    decision = decide_build(engine, nodes, {node_by_key[k] for k in context.selected_asset_keys if k in node_by_key},
                            dbt_project.project_dir,
                            forced="backfill window" if window else "rebuild_all" if config.rebuild_all else None)
    context.log.info(f"dbt: {decision.summary()}")
    key_of = {uid: key for key, uid in node_by_key.items()}
    for uid in decision.reused:
        yield _reused_output(context, key_of[uid], decision.marks.get(uid), engine)
    evaluated: set[dg.AssetCheckKey] = set()
    if decision.to_build:
        args = ["build", *(["--vars", json.dumps(window)] if window else []), *decision.dbt_exclude_args()]
        built: dict[str, dict[str, str]] = {}
        invocation = dbt.cli(args, context=context, url=warehouse.resolved_url())
        try:
            for event in invocation.stream():
                if isinstance(event, dg.Output):
                    key = context.asset_key_for_output(event.output_name)
                    built[node_by_key[key]] = decision.markers_of(node_by_key[key])
                    if key == MAP_CUSTOMER_KEY:
                        event = event.with_metadata({**event.metadata, **coverage_metadata(engine)})
                elif isinstance(event, dg.AssetCheckResult) and event.asset_key and event.check_name:
                    evaluated.add(dg.AssetCheckKey(event.asset_key, event.check_name))
                yield event
        finally:
            record_builds(engine, built, fingerprint=decision.fingerprint, run_id=context.run.run_id)
            keep_partial_parse(invocation)
    yield from _reused_check_results(context, evaluated,
                                     {decision.marks[uid].run_id for uid in decision.reused if uid in decision.marks})
