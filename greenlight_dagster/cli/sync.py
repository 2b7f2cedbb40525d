"""`greenlight sync` and `greenlight demo`: one full cycle through Dagster, with a summary.

The cycle runs as the ``sync`` job on the persistent Dagster instance (the one `make dev`
shows), in this process: the run, its logs and every asset's metadata are in the UI
afterwards exactly as if the schedule had launched it. Exit status 0 only if every step
succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click
import dagster as dg
from rich.console import Console
from rich.table import Table

from greenlight_dagster.cli.local import local_environment
from greenlight_dagster.cli.operator import record_outcome
from greenlight_dagster.defs.servicefusion.resources import DOCUMENTED_RATE_LIMIT, RATE_LIMIT_ENV
from greenlight_dagster.sandbox.generator import SCALES

#: Metadata shown in the summary, in this order, when an asset reports it.
SUMMARY_FIELDS = ("records_fetched", "new_versions", "rejected", "planned", "sent", "created", "already_done",
                  "held_back", "dead_letters", "api_calls", "duration_seconds")

#: The demo's flags: a full local rehearsal, sending to the sandbox only, with safe mode's validation
#: on and its cap raised so the whole backlog is pushed in one run.
DEMO_FLAGS = {"GREENLIGHT_DRY_RUN": "false", "GREENLIGHT_ENABLE_SERVICE_FUSION": "true",
              "GREENLIGHT_SAFE_MODE": "true", "GREENLIGHT_SAFE_MODE_MAX_CREATES": "100000"}
#: The demo's sandbox allows 10x ServiceFusion's documented 60 requests/minute (and the client
#: paces itself to match), so a demo world's first sync takes minutes, not half an hour.
DEMO_SF_RATE_LIMIT = 600


@dataclass
class SyncOutcome:
    """What one sync run did: per-asset figures, quiet materializations, check results, failures."""

    run_id: str
    success: bool
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    quiet_assets: int = 0  # materialized without summary figures (the dbt models)
    checks: dict[str, int] = field(default_factory=dict)  # passed / warn / failed
    failed_checks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _ingest_run_config(job: dg.JobDefinition, full_refresh: bool) -> dict[str, Any]:
    """``full_refresh`` for every raw asset (the ones whose config schema has it)."""
    if not full_refresh:
        return {}
    ops: dict[str, Any] = {}
    for node in job.graph.node_defs:
        schema = node.config_schema
        fields = getattr(getattr(schema, "config_type", None), "fields", {}) if schema else {}
        if "full_refresh" in fields:
            ops[node.name] = {"config": {"full_refresh": True}}
    return {"ops": ops}


def execute_sync(*, full_refresh: bool = False, partition_key: str | None = None) -> SyncOutcome:
    """Run the ``sync`` job for today's partition (or ``partition_key``) on the configured instance."""
    from greenlight_dagster.definitions import defs
    from greenlight_dagster.defs.automation import SYNC_JOB_NAME
    from greenlight_dagster.defs.ingest import latest_partition_key

    job = defs.resolve_job_def(SYNC_JOB_NAME)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance, partition_key=partition_key or latest_partition_key(),
            run_config=_ingest_run_config(job, full_refresh), raise_on_error=False,
            tags={"greenlight/trigger": "cli"},
        )
    record_outcome(result)
    outcome = SyncOutcome(run_id=result.run_id, success=result.success)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        values = {k: v.value for k, v in materialization.metadata.items() if k in SUMMARY_FIELDS}
        if values:
            outcome.rows.append((materialization.asset_key.to_user_string(), values))
        else:
            outcome.quiet_assets += 1
    for evaluation in result.get_asset_check_evaluations():
        verdict = "passed" if evaluation.passed else evaluation.severity.value.lower()
        outcome.checks[verdict] = outcome.checks.get(verdict, 0) + 1
        if not evaluation.passed:
            outcome.failed_checks.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name} "
                                         f"({verdict})")
    for event in result.all_events:
        if event.is_step_failure:
            outcome.failures.append(f"{event.step_key}: {event.message}")
    return outcome


def print_summary(outcome: SyncOutcome) -> None:
    console = Console()
    shown = [name for name in SUMMARY_FIELDS if any(name in values for _, values in outcome.rows)]
    table = Table(title=f"sync run {outcome.run_id}: {'succeeded' if outcome.success else 'FAILED'}")
    table.add_column("asset")
    for name in shown:
        table.add_column(name.replace("_", " "), justify="right")
    for asset, values in outcome.rows:
        table.add_row(asset, *(str(values.get(name, "")) for name in shown))
    console.print(table)
    console.print(f"{outcome.quiet_assets} warehouse models and snapshots rebuilt; checks: "
                  + ", ".join(f"{n} {verdict}" for verdict, n in sorted(outcome.checks.items())))
    for check in outcome.failed_checks:
        console.print(f"[yellow]check[/yellow] {check}")
    for failure in outcome.failures:
        console.print(f"[red]failed[/red] {failure}")


def _run_and_report(full_refresh: bool, partition_key: str | None) -> None:
    outcome = execute_sync(full_refresh=full_refresh, partition_key=partition_key)
    print_summary(outcome)
    if not outcome.success:
        raise click.ClickException(f"the sync failed; details in the run log (run {outcome.run_id}, `make dev`).")


@click.command()
@click.option("--full-refresh", is_flag=True, help="Re-read everything instead of the incremental window.")
@click.option("--partition", "partition_key", default=None, help="Day to sync (YYYY-MM-DD); default today.")
def sync(full_refresh: bool, partition_key: str | None) -> None:
    """One full cycle: ingest, warehouse, reconcile, push (the flags decide what is sent)."""
    with local_environment():
        _run_and_report(full_refresh, partition_key)


@click.command()
@click.option("--scale", type=click.Choice(list(SCALES)), default="demo", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def demo(scale: str, seed: int) -> None:
    """Rehearse a full sync locally: embedded warehouse, sandbox PW/SF, pushes on (to the sandbox only)."""
    click.echo(f"demo: pushes go to the local sandbox only; its ServiceFusion allows {DEMO_SF_RATE_LIMIT} "
               f"requests/minute (the real API: {DOCUMENTED_RATE_LIMIT}).", err=True)
    with local_environment(scale=scale, seed=seed, force_sandbox=True,
                           extra_env={**DEMO_FLAGS, RATE_LIMIT_ENV: str(DEMO_SF_RATE_LIMIT)},
                           sf_options={"rate_limit_per_minute": DEMO_SF_RATE_LIMIT}):
        _run_and_report(False, None)
