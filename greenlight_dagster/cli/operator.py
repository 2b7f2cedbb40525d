"""What the operator commands (status, flags, preview, dead-letters) share: a warehouse session
and machine-readable output.

Most of them need only the warehouse, not PropertyWare or ServiceFusion, so they must work on
a machine where no API is configured (an operator checking on a stopped sync). The session
starts the embedded PostgreSQL when no ``GREENLIGHT_WAREHOUSE_URL`` is set, applies pending
migrations (so a fresh warehouse answers "nothing yet" rather than "no such table"), and stops
the server again only if this command started it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import dagster as dg
from sqlalchemy import Engine

from greenlight_dagster.cli.local import prepared_dagster_env
from greenlight_dagster.lib.runs import run_kind
from greenlight_dagster.warehouse.connection import WAREHOUSE_URL_ENV, make_engine
from greenlight_dagster.warehouse.run_records import finish_run


@contextmanager
def warehouse_engine() -> Iterator[Engine]:
    """An engine on the warehouse in force; an unreachable server is one sentence, exit 1."""
    env, stop = prepared_dagster_env()
    engine = make_engine(env[WAREHOUSE_URL_ENV])
    try:
        yield engine
    finally:
        engine.dispose()
        stop()


def record_outcome(result: dg.ExecuteInProcessResult) -> None:
    """Close an in-process run's ``ops.sync_runs`` row, of its kind: no run-status sensor sees these runs."""
    engine = make_engine()
    try:
        finish_run(engine, result.run_id, status="succeeded" if result.success else "failed",
                   kind=run_kind(result.dagster_run.tags))
    finally:
        engine.dispose()


def echo_json(data: Any) -> None:
    """One JSON document on stdout (timestamps as ISO text), for scripts."""
    click.echo(json.dumps(data, indent=2, default=lambda value: value.isoformat()
                          if hasattr(value, "isoformat") else str(value)))


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
