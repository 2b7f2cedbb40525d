"""`greenlight backfill --from --to`: re-read a historical window, in bounded chunks, with progress.

Each chunk is one run of the ``backfill`` job over a partition range (the same single-run
ranges the UI's backfill dialog launches), so the runs, their logs and metadata show up in
the UI. Chunks bound a run's duration and let a failed window be retried on its own; the
window is idempotent, so re-running a range that partly succeeded appends nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import click
import dagster as dg
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from greenlight_dagster.cli.local import local_environment
from greenlight_dagster.cli.operator import record_outcome

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def chunks(start: date, end: date, days: int) -> Iterator[tuple[date, date]]:
    """Inclusive ``[first, last]`` day ranges of at most ``days`` days covering ``start..end``."""
    if days < 1:
        raise ValueError("chunk size must be at least one day")
    first = start
    while first <= end:
        last = min(first + timedelta(days=days - 1), end)
        yield first, last
        first = last + timedelta(days=1)


def check_window(start: date, end: date) -> None:
    """Refuse, before anything starts, days the daily partitions do not have (exit 2)."""
    from greenlight_dagster.lib.ingest import DAILY_PARTITIONS, latest_partition_key

    earliest = DAILY_PARTITIONS.start.date()
    latest = date.fromisoformat(latest_partition_key())
    if start > end:
        raise click.BadParameter(f"--from {start} is after --to {end}")
    if start < earliest or end > latest:
        asked = start.isoformat() if start == end else f"{start}..{end}"
        raise click.BadParameter(f"{asked} is outside {earliest}..{latest} (the daily partitions)")


def run_chunk(job: dg.JobDefinition, instance: dg.DagsterInstance, first: date,
              last: date) -> dg.ExecuteInProcessResult:
    """One chunk as one run, recorded in ``ops.sync_runs`` (kind ``backfill``) for `greenlight status`."""
    result = job.execute_in_process(
        instance=instance, raise_on_error=False,
        tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat(),
              "greenlight/trigger": "cli-backfill"},
    )
    record_outcome(result)
    return result


@click.command()
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last day, inclusive.")
@click.option("--chunk-days", type=click.IntRange(1, 366), default=30, show_default=True,
              help="Days per run; each chunk is one run of the backfill job.")
def backfill(start: datetime, end: datetime, chunk_days: int) -> None:
    """Re-read PW work orders and SF jobs modified in a past window and rebuild the warehouse (no pushes)."""
    first_day, last_day = start.date(), end.date()
    check_window(first_day, last_day)
    from greenlight_dagster.definitions import load_definitions
    from greenlight_dagster.defs.automation.jobs import BACKFILL_JOB_NAME

    windows = list(chunks(first_day, last_day, chunk_days))
    failed: list[str] = []
    with local_environment(), dg.DagsterInstance.get() as instance:
        job = load_definitions().resolve_job_def(BACKFILL_JOB_NAME)
        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} chunks"),
                   TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns) as progress:
            task = progress.add_task(f"backfill {first_day}..{last_day}", total=len(windows))
            for first, last in windows:
                result = run_chunk(job, instance, first, last)
                if not result.success:
                    failed.append(f"{first}..{last} (run {result.run_id})")
                progress.advance(task)
    if failed:
        raise click.ClickException(f"{len(failed)} chunk(s) failed: {', '.join(failed)}; re-run those windows.")
    click.echo(f"backfilled {first_day}..{last_day} in {len(windows)} run(s)")
