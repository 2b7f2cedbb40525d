"""`greenlight`: the operators' command line (docs/operations.md §2).

Each command group lives in its own module; this one only assembles them. Exit codes are
part of the contract: 0 success, 1 the operation failed, 2 bad usage (click's own).
"""

from __future__ import annotations

import importlib
import warnings

import click

from greenlight_dagster.lib.secrets import load_secrets

#: name -> (module, one line for `greenlight --help`). A command's module is imported only when it runs,
#: so `--help` and a typo answer at once instead of after importing Dagster (~2 s);
#: test_cli checks each line against the command's own help.
COMMANDS: dict[str, tuple[str, str]] = {
    "backfill": ("backfill", "Re-read PW work orders and SF jobs of a past date range."),
    "dead-letters": ("dead_letters", "Inspect and replay writes that failed for good."),
    "demo": ("sync", "Rehearse a full sync on the embedded warehouse and sandbox."),
    "dev": ("dev", "Run the Dagster UI and daemon against the warehouse."),
    "flags": ("flags", "Show and change the push flags."),
    "preview": ("preview", "What the next push would create and update on each side."),
    "sandbox": ("sandbox", "Run the local PropertyWare and ServiceFusion sandbox."),
    "status": ("status", "Last runs, the ledger by state, dead letters, flags in force."),
    "sync": ("sync", "One full cycle: ingest, warehouse, reconcile, push."),
    "warehouse": ("warehouse", "Start, stop and migrate the warehouse."),
}


class LazyCommands(click.Group):
    """A group whose subcommands are imported on first use (see `COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        import dagster as dg

        # Operators read this output: Dagster's notes on its own beta parameters (backfill_policy) are not
        # for them. Set before the command imports the asset definitions that trigger them.
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        module = importlib.import_module(f"greenlight_dagster.cli.{COMMANDS[cmd_name][0]}")
        command = getattr(module, cmd_name.replace("-", "_"))
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, line) for name, (_, line) in sorted(COMMANDS.items())])


@click.group(cls=LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="greenlight-sync")
def main() -> None:
    """GreenLight Sync: keep PropertyWare and ServiceFusion in step through a PostgreSQL warehouse."""
    try:
        load_secrets()  # GREENLIGHT_SECRETS=ssm: connection settings come from SSM Parameter Store
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
