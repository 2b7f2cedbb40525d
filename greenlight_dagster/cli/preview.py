"""`greenlight preview`: what the next push would do, record by record, before anyone enables it.

The plan is computed live, exactly as ``reconcile/push_plan`` computes it: the candidates from
the warehouse's ``push_candidates.*`` models (`warehouse.candidates.load_candidates`), the ledger's
existing entries, the flags in force, and `core.plan.build_push_plan`. Nothing is recorded:
unlike the asset, a preview writes no ledger rows, so it can be run any time, as often as
wanted, with hypothetical flags (``--flag dry_run=false``). The candidates are as fresh as the
last warehouse build; run `greenlight sync` (dry run is on by default) to refresh them.

ServiceFusion is asked for its job categories only (an SF job is sent with a category only if
the account has one of that name); ``--offline`` skips that, as a run does when SF cannot be
read, and then needs no API credentials at all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import ProgrammingError

from greenlight_dagster.cli.flags import checked_value, flag_name
from greenlight_dagster.cli.local import local_environment
from greenlight_dagster.cli.operator import echo_json, json_option, warehouse_engine
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.plan import PushPlan
from greenlight_dagster.core.pw_api import SOAP_ONLY, PwApiConfigError, PwApis
from greenlight_dagster.outbox.planning import plan_against_ledger
from greenlight_dagster.warehouse.candidates import CANDIDATES_SCHEMA, load_candidates
from greenlight_dagster.warehouse.connection import WAREHOUSE_URL_ENV, make_engine
from greenlight_dagster.warehouse.flag_store import effective_flags, stored_overrides
from greenlight_dagster.warehouse.ledger_store import LedgerStore

COLUMNS = ("action", "target", "operation", "source_id", "will_send", "detail")


def parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    """``NAME=VALUE`` options as flag overrides; a malformed one is exit 1 with the expected form."""
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.ClickException(f"--flag {pair!r} is not NAME=VALUE (e.g. --flag dry_run=false).")
        name = flag_name(name)
        overrides[name] = checked_value(name, value)
    return overrides


def resolve_flags(engine: Engine, overrides: dict[str, str]) -> SyncFlags:
    """The flags of a run started now (environment < ops.flags), plus this preview's overrides."""
    try:
        return effective_flags(os.environ, stored_overrides(engine), overrides)
    except ValueError as exc:
        raise click.ClickException(f"{exc}.") from exc


def configured_pw_apis() -> tuple[PwApis, str]:
    """The PropertyWare APIs configured here (they decide the PW writes the plan can make), described.

    Without PropertyWare variables (``--offline`` needs none) the plan is shown as the SOAP API,
    which can make every PW write, would make it - and the description says so.
    """
    from greenlight_dagster.defs.propertyware.resources import PropertyWareResource

    try:
        apis = PropertyWareResource().apis()
    except PwApiConfigError as exc:
        return SOAP_ONLY, f"{exc} PW writes are previewed as the SOAP API would make them."
    return apis, apis.describe()


def compute_plan(engine: Engine, flags: SyncFlags, sf_categories: list[str], pw_apis: PwApis = SOAP_ONLY) -> PushPlan:
    """The plan ``reconcile/push_plan`` would build now, without recording it."""
    try:
        candidates = load_candidates(engine, sf_categories)
    except ProgrammingError as exc:  # the candidate views are built by the first sync
        raise click.ClickException(
            f"the warehouse has no push candidates yet (the {CANDIDATES_SCHEMA}.* models are missing): "
            "run `greenlight sync` once - dry run is on by default, nothing is sent - then preview again."
        ) from exc
    return plan_against_ledger(LedgerStore(engine), flags, candidates, pw_apis=pw_apis)


def sf_job_categories() -> list[str]:
    """The SF account's job category names, read the way push_plan reads them (empty if SF is unreachable)."""
    from greenlight_dagster.defs.reconcile.assets import sf_job_category_names
    from greenlight_dagster.defs.servicefusion.resources import default_resource

    resource = default_resource().process_config_and_initialize()
    return sf_job_category_names(resource, logging.getLogger("greenlight.preview"))


@contextmanager
def plan_session(offline: bool) -> Iterator[tuple[Engine, list[str]]]:
    """The warehouse engine and SF job categories: warehouse only when offline, else the full environment."""
    if offline:
        with warehouse_engine() as engine:
            yield engine, []
        return
    with local_environment() as env:
        engine = make_engine(env[WAREHOUSE_URL_ENV])
        try:
            yield engine, sf_job_categories()
        finally:
            engine.dispose()


def select_rows(plan: PushPlan, target: str | None, action: str | None) -> list[dict[str, Any]]:
    return [{key: row[key] for key in COLUMNS} for row in plan.preview_rows()
            if (target is None or row["target"] == target) and (action is None or row["action"] == action)]


def print_preview(plan: PushPlan, rows: list[dict[str, Any]], limit: int, pw_api: str) -> None:
    console = Console()
    console.print(f"PropertyWare API: {pw_api}")
    sending = plan.flags.may_send("sf") or plan.flags.may_send("pw")
    console.print(f"flags: dry_run={str(plan.flags.dry_run).lower()}, "
                  f"enable_service_fusion={str(plan.flags.enable_service_fusion).lower()}, "
                  f"safe_mode={str(plan.flags.safe_mode).lower()} -> "
                  + ("[bold]the next run sends the writes marked 'yes'[/bold]" if sending
                     else "the next run sends nothing (it only plans)"))
    shown = rows if limit == 0 else rows[:limit]
    table = Table(title=f"next push: {len(plan.writes)} write(s), {len(plan.held_back)} held back"
                        + (f" (showing {len(shown)} of {len(rows)}; --limit 0 for all)" if len(shown) < len(rows)
                           else ""))
    for column in COLUMNS:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in shown:
        table.add_row(row["action"], row["target"], row["operation"], row["source_id"],
                      "yes" if row["will_send"] else "no", row["detail"])
    console.print(table)
    console.print("summary: " + (", ".join(f"{key}={count}" for key, count in plan.summary().items()) or "nothing"))


@click.command()
@click.option("--target", type=click.Choice(["sf", "pw"]), help="Only writes to (or held back from) this system.")
@click.option("--action", type=click.Choice(["write", "hold"]), help="Only planned writes, or only held-back items.")
@click.option("--flag", "flag_pairs", multiple=True, metavar="NAME=VALUE",
              help="Preview as if this flag were set (this preview only; nothing is stored). Repeatable.")
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True,
              help="Rows in the table (0 = all); --json always has all.")
@click.option("--offline", is_flag=True,
              help="Don't ask ServiceFusion for its job categories (needs only the warehouse).")
@json_option
def preview(target: str | None, action: str | None, flag_pairs: tuple[str, ...], limit: int, offline: bool,
            as_json: bool) -> None:
    """What the next push would create/update on each side, record by record, and what it holds back and why.

    Computed now from the warehouse (the push_candidates.* models of the last sync) and the ledger, with the
    same code as the reconcile/push_plan asset, but nothing is recorded.
    """
    overrides = parse_overrides(flag_pairs)
    with plan_session(offline) as (engine, categories):
        pw_apis, pw_api = configured_pw_apis()
        plan = compute_plan(engine, resolve_flags(engine, overrides), categories, pw_apis)
    rows = select_rows(plan, target, action)
    if as_json:
        echo_json({"flags": plan.flags.as_dict(), "propertyware_api": pw_api, "summary": plan.summary(), "rows": rows})
    else:
        print_preview(plan, rows, limit, pw_api)
