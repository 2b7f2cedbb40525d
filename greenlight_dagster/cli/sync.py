"""`greenlight sync` and `greenlight demo`: one full cycle through Dagster, with a summary.

The cycle runs as the ``sync`` job on the persistent Dagster instance (the one `make dev`
shows), in this process: the run, its logs and every asset's metadata are in the UI
afterwards exactly as if the schedule had launched it. Exit status 0 only if every step
succeeded; otherwise the error names each failed step with the first line of the error it
raised and what to do about it (`failure_message`), so nobody has to open the run log to learn
that ServiceFusion was down or a run-config value was out of range.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import click
import dagster as dg
from rich.console import Console
from rich.table import Table

from greenlight_dagster.cli.backfill import check_window
from greenlight_dagster.cli.local import local_environment
from greenlight_dagster.cli.operator import record_outcome
from greenlight_dagster.core.pw_api import DEPLOYMENTS
from greenlight_dagster.defs.servicefusion.resources import DOCUMENTED_RATE_LIMIT, RATE_LIMIT_ENV
from greenlight_dagster.lib.lanes import failed_assets
from greenlight_dagster.sandbox.generator import SCALES
from greenlight_dagster.warehouse.embedded import data_dir

#: Metadata shown in the summary, in this order, when an asset reports it.
#: The figures of the summary, by table, with the short headings that keep each table within 80 columns.
READ_FIELDS = {"records_fetched": "fetched", "new_versions": "new", "rejected": "rejected", "api_calls": "calls",
               "duration_seconds": "s"}
PUSH_FIELDS = {"planned": "planned", "sent": "sent", "created": "created", "already_done": "done",
               "held_back": "held", "dead_letters": "dead"}
SUMMARY_FIELDS = tuple(dict.fromkeys([*READ_FIELDS, *PUSH_FIELDS]))
#: The terminal shows the run's INFO lines (our steps' progress); Dagster's DEBUG events stay in the run log.
QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}

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
    failures: list[StepFailure] = field(default_factory=list)
    propertyware_api: str = ""  # what the push plan reported: which PW API read and which wrote


class ErrorInfo(Protocol):
    """What a step failure event records of an error (Dagster's serializable error info) and its cause."""

    @property
    def message(self) -> str: ...
    @property
    def cls_name(self) -> str | None: ...
    @property
    def cause(self) -> ErrorInfo | None: ...


#: Dagster's wrappers around the error a step raised: the cause underneath is what went wrong.
_WRAPPERS = frozenset({"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"})
#: What to do, by the class of the error a step raised; anything else gets `DEFAULT_ADVICE`.
ADVICE = {
    "CircuitOpenError": "the service it names did not answer: check that it is up and that its GREENLIGHT_* URL "
                        "and credentials are right",
    "ValidationError": "a run-config value is out of range: correct it in the run config",
    "DagsterDbtCliRuntimeError": "a warehouse model or test failed: the dbt log named at the start of the sync "
                                 "says which and why",
}
DEFAULT_ADVICE = "fix the cause named above"


@dataclass(frozen=True)
class StepFailure:
    """A failed step: its name, the class of the error it raised and that error's first line."""

    step: str
    error_class: str
    first_line: str

    @classmethod
    def from_error(cls, step_key: str, error: ErrorInfo | None) -> StepFailure:
        while error is not None and error.cls_name in _WRAPPERS and error.cause is not None:
            error = error.cause
        step = step_key.replace("__", "/")  # an asset's op name is its key joined by "__"
        if error is None:
            return cls(step, "", "no error was recorded")
        name = error.cls_name or ""
        lines = [line.strip() for line in error.message.splitlines() if line.strip()]
        # A pydantic ValidationError's first line only counts the errors; the field and its bound follow.
        shown = lines[:3] if name == "ValidationError" else lines[:1]
        text = " ".join(shown)
        qualified, sep, rest = text.partition(": ")
        if sep and qualified.split(".")[-1] == name:
            text = rest if name == "Failure" else f"{name}: {rest}"
        return cls(step, name, text[:300])

    @classmethod
    def of_asset(cls, asset: str, detail: str) -> StepFailure:
        """A failed asset of a step that runs several (`lib.lanes`): ``detail`` is "ErrorClass: first line"."""
        error_class, sep, _ = detail.partition(": ")
        return cls(asset, error_class if sep else "", detail[:300])

    def __str__(self) -> str:
        return f"{self.step}: {self.first_line}"


def failure_message(outcome: SyncOutcome) -> str:
    """The CLI's error for a failed sync: the failed steps with their first error lines, then what to do."""
    if not outcome.failures:
        return (f"the sync failed before any step ran (run {outcome.run_id}, `make dev` shows its log); "
                "check the run config and the connection settings, then run `greenlight sync` again.")
    shown = "; ".join(str(failure) for failure in outcome.failures[:3])
    more = f"; and {len(outcome.failures) - 3} more" if len(outcome.failures) > 3 else ""
    advice = list(dict.fromkeys(ADVICE.get(f.error_class, DEFAULT_ADVICE) for f in outcome.failures))
    return (f"the sync failed in {len(outcome.failures)} step(s): {shown}{more}. What to do: {'; '.join(advice)}; "
            "then run `greenlight sync` again - nothing is sent twice, every write that may have gone out is looked "
            f"up first (run {outcome.run_id}, `make dev` shows its full log).")


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
    from greenlight_dagster.definitions import load_definitions
    from greenlight_dagster.defs.automation.jobs import SYNC_JOB_NAME
    from greenlight_dagster.lib.ingest import latest_partition_key

    job = load_definitions().resolve_job_def(SYNC_JOB_NAME)
    dbt_log = data_dir() / "logs" / f"sync-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    dbt_log.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"sync: Dagster's progress below; dbt's output in {dbt_log}", err=True)
    with dg.DagsterInstance.get() as instance, dbt_log.open("w", encoding="utf-8") as log, \
            contextlib.redirect_stdout(log):  # dagster-dbt writes dbt's lines to stdout
        result = job.execute_in_process(
            instance=instance, partition_key=partition_key or latest_partition_key(),
            run_config={**_ingest_run_config(job, full_refresh), **QUIET_LOGGERS}, raise_on_error=False,
            tags={"greenlight/trigger": "cli"},
        )
    record_outcome(result)
    return summarize(result)


def summarize(result: dg.ExecuteInProcessResult) -> SyncOutcome:
    """What the run did, from its events: the summary table, the checks and the failed steps."""
    outcome = SyncOutcome(run_id=result.run_id, success=result.success)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        values = {k: v.value for k, v in materialization.metadata.items() if k in SUMMARY_FIELDS}
        if "propertyware_api" in materialization.metadata:
            outcome.propertyware_api = str(materialization.metadata["propertyware_api"].value)
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
            data = event.step_failure_data
            assets = failed_assets(data.user_failure_data.metadata) if data and data.user_failure_data else {}
            if assets:
                outcome.failures.extend(StepFailure.of_asset(asset, detail) for asset, detail in assets.items())
            else:
                outcome.failures.append(StepFailure.from_error(event.step_key or "?", data.error if data else None))
    return outcome


def _table(title: str, headings: dict[str, str], rows: list[tuple[str, dict[str, Any]]]) -> Table:
    shown = [name for name in headings if any(name in values for _, values in rows)]
    table = Table(title=title, title_justify="left")
    table.add_column("asset", no_wrap=True)
    for name in shown:
        table.add_column(headings[name], justify="right", no_wrap=True)
    for asset, values in rows:
        table.add_row(asset, *(_figure(values.get(name)) for name in shown))
    return table


def _figure(value: Any) -> str:
    return "" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


def print_summary(outcome: SyncOutcome) -> None:
    """Two tables (reads, then the plan and pushes) that fit an 80-column terminal, then the checks."""
    console = Console()
    console.print(f"sync run {outcome.run_id[:8]}: {'succeeded' if outcome.success else 'FAILED'}")
    reads = [(asset, values) for asset, values in outcome.rows if "records_fetched" in values]
    pushes = [(asset, values) for asset, values in outcome.rows if "records_fetched" not in values]
    for title, headings, rows in (("read", READ_FIELDS, reads), ("planned and pushed", PUSH_FIELDS, pushes)):
        if rows:
            console.print(_table(title, headings, rows))
    if outcome.propertyware_api:
        console.print(f"PropertyWare API: {outcome.propertyware_api}")
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
        raise click.ClickException(failure_message(outcome))


def _partition_day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--partition``: a day the daily partitions have, checked before the warehouse or sandbox start (exit 2)."""
    if value is None:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a day in the form YYYY-MM-DD (e.g. 2025-01-31)") from None
    check_window(day, day)
    return day.isoformat()


@click.command()
@click.option("--full-refresh", is_flag=True, help="Re-read everything instead of the incremental window.")
@click.option("--partition", "partition_key", default=None, callback=_partition_day,
              help="Day to sync (YYYY-MM-DD); default today.")
def sync(full_refresh: bool, partition_key: str | None) -> None:
    """One full cycle: ingest, warehouse, reconcile, push (the flags decide what is sent)."""
    with local_environment():
        _run_and_report(full_refresh, partition_key)


@click.command()
@click.option("--scale", type=click.Choice(list(SCALES)), default="demo", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--pw-api", type=click.Choice(DEPLOYMENTS), default="soap", show_default=True,
              help="Which PropertyWare API the sandbox hands the sync: SOAP, REST, or both (then reads go "
                   "through REST).")
def demo(scale: str, seed: int, pw_api: str) -> None:
    """Rehearse a full sync locally: embedded warehouse, sandbox PW/SF, pushes on (to the sandbox only)."""
    click.echo(f"demo: pushes go to the local sandbox only; its ServiceFusion allows {DEMO_SF_RATE_LIMIT} "
               f"requests/minute (the real API: {DOCUMENTED_RATE_LIMIT}).", err=True)
    with local_environment(scale=scale, seed=seed, force_sandbox=True,
                           extra_env={**DEMO_FLAGS, RATE_LIMIT_ENV: str(DEMO_SF_RATE_LIMIT)},
                           sf_options={"rate_limit_per_minute": DEMO_SF_RATE_LIMIT}, pw_api=pw_api):
        _run_and_report(False, None)
