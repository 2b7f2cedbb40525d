"""`greenlight`: the operators' command line (docs/operations.md §2).

Each command group lives in its own module; this one only assembles them. Exit codes are
part of the contract: 0 success, 1 the operation failed, 2 bad usage (click's own).
"""

from __future__ import annotations

import warnings

import dagster as dg

# Operators read this output: Dagster's notes on its own beta parameters (backfill_policy) are not
# for them. Set before the commands import the asset definitions that trigger them.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

import click

from greenlight_dagster.cli.backfill import backfill
from greenlight_dagster.cli.dead_letters import dead_letters
from greenlight_dagster.cli.dev import dev
from greenlight_dagster.cli.flags import flags
from greenlight_dagster.cli.preview import preview
from greenlight_dagster.cli.sandbox import sandbox
from greenlight_dagster.cli.status import status
from greenlight_dagster.cli.sync import demo, sync
from greenlight_dagster.cli.warehouse import warehouse
from greenlight_dagster.defs.secrets import load_secrets


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="greenlight-sync")
def main() -> None:
    """GreenLight Sync: keep PropertyWare and ServiceFusion in step through a PostgreSQL warehouse."""
    try:
        load_secrets()  # GREENLIGHT_SECRETS=ssm: connection settings come from SSM Parameter Store
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


main.add_command(warehouse)
main.add_command(dev)
main.add_command(sync)
main.add_command(demo)
main.add_command(backfill)
main.add_command(status)
main.add_command(flags)
main.add_command(preview)
main.add_command(dead_letters)
main.add_command(sandbox)
