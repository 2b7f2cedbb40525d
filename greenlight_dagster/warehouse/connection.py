"""Which PostgreSQL we talk to, and how each consumer (SQLAlchemy, dbt, Dagster) is told.

One rule everywhere: ``GREENLIGHT_WAREHOUSE_URL`` when set (production: RDS, Supabase, the
machine's server), otherwise the embedded server. Dagster's own storage lives in a
``dagster`` database on the same server (``GREENLIGHT_DAGSTER_STORAGE_URL`` overrides).
URLs always name the psycopg2 driver: SQLAlchemy 2.1 maps a bare ``postgresql://`` to
psycopg 3, which we do not install.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url

from greenlight_dagster.warehouse.embedded import DAGSTER_DB, EmbeddedWarehouse

WAREHOUSE_URL_ENV = "GREENLIGHT_WAREHOUSE_URL"
DAGSTER_STORAGE_URL_ENV = "GREENLIGHT_DAGSTER_STORAGE_URL"
#: dbt's own login (deployment configuration); unset, dbt uses the warehouse URL's.
DBT_USER_ENV = "GREENLIGHT_DBT_USER"
DBT_PASSWORD_ENV = "GREENLIGHT_DBT_PASSWORD"
DBT_ROLE_ENV = "GREENLIGHT_DBT_ROLE"
TRANSFORMER_ROLE = "greenlight_transformer"
#: What profiles.yml reads the password from: dbt masks ``DBT_ENV_SECRET_*`` values in its output.
DBT_PASSWORD_PROFILE_ENV = "DBT_ENV_SECRET_GREENLIGHT_PASSWORD"


def normalize_url(url: str | URL) -> URL:
    """Force the psycopg2 driver on any postgres URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(f"the warehouse must be PostgreSQL, got a {parsed.get_backend_name()!r} URL")
    return parsed.set(drivername="postgresql+psycopg2")


@lru_cache(maxsize=1)
def warehouse_url() -> URL:
    """The warehouse URL in force, starting the embedded server if no URL is configured."""
    configured = os.environ.get(WAREHOUSE_URL_ENV)
    if configured:
        return normalize_url(configured)
    return EmbeddedWarehouse().start()


def dagster_storage_url(url: URL | None = None) -> URL:
    """Dagster's run/event/schedule storage: a ``dagster`` database beside the warehouse."""
    configured = os.environ.get(DAGSTER_STORAGE_URL_ENV)
    if configured:
        return normalize_url(configured)
    return (url or warehouse_url()).set(database=DAGSTER_DB)


def make_engine(url: URL | str | None = None) -> Engine:
    return create_engine(normalize_url(url) if url is not None else warehouse_url(), pool_pre_ping=True,
                         pool_size=4, max_overflow=4)


def dbt_env(url: URL, deployment: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Environment variables the dbt profile (dbt_warehouse/profiles.yml) reads.

    The server and database are the warehouse URL's. The login is dbt's own when the
    deployment configures one (``GREENLIGHT_DBT_USER``/``GREENLIGHT_DBT_PASSWORD``, least
    privilege: docs/deploy.md); dbt then acts as ``GREENLIGHT_DBT_ROLE`` (default
    ``greenlight_transformer``), so what it builds is owned by that role and the role's default
    privileges let the loader and analysts read it. The password travels under dbt's
    ``DBT_ENV_SECRET_`` prefix, which dbt scrubs from its logs and refuses outside profiles.

    A unix-socket URL (the embedded server) carries its socket directory in the ``host``
    query parameter; dbt-postgres passes ``host`` straight to libpq, which treats a path as
    a socket directory.
    """
    host = url.host or str(url.query.get("host") or "") or "127.0.0.1"
    own_login = deployment.get(DBT_USER_ENV, "")
    return {
        "DBT_GREENLIGHT_HOST": host,
        "DBT_GREENLIGHT_PORT": str(url.port or 5432),
        "DBT_GREENLIGHT_USER": own_login or url.username or "postgres",
        DBT_PASSWORD_PROFILE_ENV: deployment.get(DBT_PASSWORD_ENV, "") if own_login else (url.password or ""),
        "DBT_GREENLIGHT_ROLE": (deployment.get(DBT_ROLE_ENV) or TRANSFORMER_ROLE) if own_login else "",
        "DBT_GREENLIGHT_DBNAME": url.database or "postgres",
    }


def render_url(url: URL) -> str:
    """The URL as text with any password hidden: safe to print and log."""
    return url.render_as_string(hide_password=True)
