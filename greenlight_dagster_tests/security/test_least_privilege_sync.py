"""The documented least-privilege setup really works: a full sync as loader and dbt logins (issue 17.5).

docs/deploy.md tells operators to create one login for the code location (granted
``greenlight_loader``) and one for dbt (``greenlight_transformer``, ``GREENLIGHT_DBT_USER``),
and to migrate with a separate admin login. This test does exactly that on the TCP server
(roles are cluster-wide, which the embedded per-test server would not show honestly), then
runs the whole ``sync`` job - ingest, dbt build, reconcile, pushes - through those logins, and
checks that ``raw.*`` is append-only by privilege for the loader.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from greenlight_dagster.instance.environ import environment_set
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.warehouse import migrate
from greenlight_dagster.warehouse.connection import normalize_url
from greenlight_dagster_tests.conftest import TEST_DB_ENV
from greenlight_dagster_tests.reliability.harness import (
    SF_RATE_LIMIT,
    isolated_database,
    run_cycle,
    sandbox_env,
    warehouse_in_force,
)

pytestmark = [
    pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600),
    pytest.mark.skipif(not os.environ.get(TEST_DB_ENV),
                       reason=f"needs a TCP PostgreSQL whose login may create roles: set {TEST_DB_ENV}"),
]

INSUFFICIENT_PRIVILEGE = "42501"


@contextmanager
def logins(server: URL, groups: dict[str, str]) -> Iterator[dict[str, str]]:
    """Login roles named like ``groups``' keys, each granted its group role (docs/deploy.md); dropped on exit."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    passwords = {name: secrets.token_urlsafe(16) for name in groups}
    try:
        with admin.connect() as conn:
            for name, group in groups.items():
                conn.execute(text(f"create role {name} login password '{passwords[name]}'"))
                conn.execute(text(f"grant {group} to {name}"))
        yield passwords
    finally:
        with admin.connect() as conn:
            for name in groups:
                conn.execute(text(f"drop role if exists {name}"))
        admin.dispose()


def _refused(engine: Engine, statement: str) -> bool:
    with engine.connect() as conn:
        try:
            conn.execute(text(statement))
        except ProgrammingError as exc:
            return getattr(exc.orig, "pgcode", None) == INSUFFICIENT_PRIVILEGE
        finally:
            conn.rollback()
    return False


def test_a_full_sync_runs_through_the_documented_logins() -> None:
    server = normalize_url(os.environ[TEST_DB_ENV])
    suffix = uuid.uuid4().hex[:8]
    app, dbt = f"gl_app_{suffix}", f"gl_dbt_{suffix}"
    with logins(server, {app: "greenlight_loader", dbt: "greenlight_transformer"}) as passwords, \
            isolated_database(server) as database:
        owner = create_engine(database, poolclass=NullPool)
        migrate.upgrade(owner)  # the release step, as the schema owner
        app_url = database.set(username=app, password=passwords[app])
        dbt_login = {"GREENLIGHT_DBT_USER": dbt, "GREENLIGHT_DBT_PASSWORD": passwords[dbt]}
        with warehouse_in_force(app_url) as engine, \
                Sandbox(seed=0, scale="small", sf_options={"rate_limit_per_minute": SF_RATE_LIMIT}) as sandbox, \
                environment_set({**sandbox_env(sandbox), **dbt_login}):
            cycle = run_cycle(sandbox)
            assert cycle.success, cycle.failures
            assert cycle.writes > 0  # pushes went out, planned from push_candidates.* read by the loader login
            with engine.connect() as conn:
                assert conn.execute(text("select count(*) from raw.pw_work_orders")).scalar_one() > 0
                assert conn.execute(text("select count(*) from marts.map_customer")).scalar_one() > 0
                assert conn.execute(text("select count(*) from ops.sync_ledger where state = 'done'")).scalar_one() > 0
            for statement in ("update raw.pw_work_orders set payload = '{}'", "delete from raw.sf_jobs",
                              "truncate raw.pw_work_orders", "drop table marts.map_customer"):
                assert _refused(engine, statement), f"{app} may: {statement}"
            engine.dispose()
        with owner.connect() as conn:
            owners = set(conn.execute(text(
                "select tableowner from pg_tables where schemaname in ('marts', 'snapshots')")).scalars())
        owner.dispose()
        assert owners == {"greenlight_transformer"}  # dbt acted as its group role, not as the loader
