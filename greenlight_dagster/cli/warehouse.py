"""`greenlight warehouse up|down|url|migrate`: the embedded PostgreSQL and its migrations."""

from __future__ import annotations

import os

import click

from greenlight_dagster.warehouse import migrate as migrations
from greenlight_dagster.warehouse.connection import WAREHOUSE_URL_ENV, make_engine, render_url, warehouse_url
from greenlight_dagster.warehouse.embedded import EmbeddedWarehouse


@click.group()
def warehouse() -> None:
    """Start, stop and migrate the warehouse (embedded PostgreSQL unless GREENLIGHT_WAREHOUSE_URL is set)."""


@warehouse.command()
def up() -> None:
    """Start the embedded warehouse (if not configured elsewhere) and apply migrations."""
    url = warehouse_url()
    revision = migrations.upgrade(make_engine(url))
    click.echo(f"warehouse ready at revision {revision}")
    click.echo(render_url(url))


@warehouse.command()
def down() -> None:
    """Stop the embedded warehouse. A configured external warehouse is never touched."""
    if os.environ.get(WAREHOUSE_URL_ENV):
        click.echo(f"{WAREHOUSE_URL_ENV} is set: that server is not ours to stop; nothing done.")
        return
    stopped = EmbeddedWarehouse().stop()
    click.echo("embedded warehouse stopped" if stopped else "embedded warehouse was not running")


@warehouse.command()
@click.option("--show-password", is_flag=True, help="Print the password instead of ***.")
def url(show_password: bool) -> None:
    """Print the warehouse URL in use (last line of stdout)."""
    resolved = warehouse_url()
    click.echo(resolved.render_as_string(hide_password=not show_password))


@warehouse.command()
def migrate() -> None:
    """Apply migrations up to head (idempotent)."""
    engine = make_engine()
    before = migrations.current_revision(engine)
    after = migrations.upgrade(engine)
    click.echo(f"migrated {before or 'empty'} -> {after}" if before != after else f"already at {after}")
