"""`greenlight flags show|set|unset`: the push flags operators change without a deploy.

An override lives in ``ops.flags`` and wins over the ``GREENLIGHT_*`` environment on the next
run (a Launchpad value wins over both, for that run only; see `warehouse.flag_store`). Values
are validated by the same parsers a run uses before anything is stored, so a typo is refused
here with one sentence instead of failing - or worse, silently defaulting - at 12:00 on Monday.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, delete, select

from greenlight_dagster.cli.operator import echo_json, json_option, warehouse_engine
from greenlight_dagster.core.flags import ENV_VARS, SyncFlags
from greenlight_dagster.warehouse.flag_store import effective_flags, set_override, stored_overrides
from greenlight_dagster.warehouse.tables import flags as flags_table


@dataclass(frozen=True)
class FlagInForce:
    """One flag's value for the next run and where that value comes from."""

    name: str
    value: bool | int | list[str]
    origin: str  # default | environment | ops.flags
    env_var: str
    updated_by: str | None = None
    updated_at: datetime | None = None

    def origin_text(self) -> str:
        if self.origin == "ops.flags":
            return f"ops.flags, set by {self.updated_by or 'unknown'} at {self.updated_at:%Y-%m-%d %H:%M %Z}"
        return f"environment ({self.env_var})" if self.origin == "environment" else "default"

    def value_text(self) -> str:
        return ", ".join(self.value) if isinstance(self.value, list) else str(self.value).lower()


def flags_in_force(engine: Engine, env: Mapping[str, str] = os.environ) -> list[FlagInForce]:
    """The flags the next run will use (environment < ops.flags), each with its origin."""
    try:
        stored = stored_overrides(engine)
    except ValueError as exc:
        raise click.ClickException(f"{exc}: remove it with `greenlight flags unset NAME`.") from exc
    values = effective_flags(env, stored).as_dict()
    with engine.connect() as conn:
        audit = {row.name: row for row in conn.execute(select(flags_table))}
    result = []
    for name, var in ENV_VARS.items():
        row = audit.get(name)
        origin = "ops.flags" if name in stored else "environment" if (env.get(var) or "").strip() else "default"
        result.append(FlagInForce(name, values[name], origin, var, row.updated_by if row is not None else None,
                                  row.updated_at if row is not None else None))
    return result


def flag_name(raw: str) -> str:
    """Accept ``dry_run``, ``dry-run`` or ``GREENLIGHT_DRY_RUN``; anything else is exit 1, naming the choices."""
    by_var = {var: name for name, var in ENV_VARS.items()}
    name = by_var.get(raw.strip().upper(), raw.strip().lower().replace("-", "_"))
    if name not in ENV_VARS:
        raise click.ClickException(f"unknown flag {raw!r}: choose one of {', '.join(ENV_VARS)}.")
    return name


def checked_value(name: str, value: str) -> str:
    """``value`` for flag ``name``, checked on its own before the warehouse is reached; exit 1 when unusable.

    Rules across flags (the open list against the statuses the push writes) are checked here too
    as far as this value alone decides them; `set_override` checks the rest against what is stored.
    """
    try:
        SyncFlags.from_env({ENV_VARS[name]: value})
    except ValueError as exc:
        raise click.ClickException(f"{name} not changed: {exc}.") from exc
    return value.strip()


def unset_override(engine: Engine, name: str) -> bool:
    """Remove the ``ops.flags`` override of ``name``; True if there was one."""
    with engine.begin() as conn:
        return conn.execute(delete(flags_table).where(flags_table.c.name == name)).rowcount > 0


def print_flags(rows: list[FlagInForce], console: Console | None = None) -> None:
    table = Table(title="flags in force for the next run")
    for column in ("flag", "value", "from"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.name, row.value_text(), row.origin_text())
    (console or Console()).print(table)


def _current(engine: Engine, name: str) -> FlagInForce:
    return next(row for row in flags_in_force(engine) if row.name == name)


@click.group()
def flags() -> None:
    """Show and change the push flags (dry_run, enable_service_fusion, safe_mode, ...) without a deploy."""


@flags.command()
@json_option
def show(as_json: bool) -> None:
    """Each flag's value for the next run and where it comes from (default, environment or ops.flags)."""
    with warehouse_engine() as engine:
        rows = flags_in_force(engine)
    if as_json:
        echo_json([asdict(row) | {"origin_text": row.origin_text()} for row in rows])
    else:
        print_flags(rows)


@flags.command(name="set")
@click.argument("name")
@click.argument("value")
@click.option("--by", "updated_by", default=getpass.getuser, show_default="your user name",
              help="Who made the change (kept in ops.flags).")
def set_flag(name: str, value: str, updated_by: str) -> None:
    """Override NAME with VALUE from the next run on, e.g. `greenlight flags set dry_run false`.

    Booleans take true/false, yes/no, on/off, 1/0; pw_open_statuses takes a comma list.
    """
    flag = flag_name(name)
    if not value.strip():
        raise click.ClickException(f"an empty value does not set {flag}: use `greenlight flags unset {flag}` "
                                   "to fall back to the environment.")
    value = checked_value(flag, value)
    with warehouse_engine() as engine:
        try:
            set_override(engine, flag, value, updated_by=updated_by)
        except ValueError as exc:
            raise click.ClickException(f"{flag} not changed: {exc}.") from exc
        now = _current(engine, flag)
    click.echo(f"{flag} = {now.value_text()} from the next run on ({now.origin_text()}).")


@flags.command(name="unset")
@click.argument("name")
def unset_flag(name: str) -> None:
    """Remove the ops.flags override of NAME, so the environment (or the default) applies again."""
    flag = flag_name(name)
    with warehouse_engine() as engine:
        removed = unset_override(engine, flag)
        now = _current(engine, flag)
    what = "override removed" if removed else "no override was set"
    click.echo(f"{flag}: {what}; the next run uses {now.value_text()} ({now.origin_text()}).")
