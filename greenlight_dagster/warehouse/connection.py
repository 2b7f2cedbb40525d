"""Which PostgreSQL we talk to, and how each consumer (SQLAlchemy, dbt, Dagster) is told.

One rule everywhere: ``GREENLIGHT_WAREHOUSE_URL`` when set (production: RDS, Supabase, the
machine's server), otherwise the embedded server. Dagster's own storage lives in a
``dagster`` database on the same server (``GREENLIGHT_DAGSTER_STORAGE_URL`` overrides).
URLs always name the psycopg2 driver: SQLAlchemy 2.1 maps a bare ``postgresql://`` to
psycopg 3, which we do not install.
"""

from __future__ import annotations

import os
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url

from greenlight_dagster.warehouse.embedded import DAGSTER_DB, EmbeddedWarehouse

WAREHOUSE_URL_ENV = "GREENLIGHT_WAREHOUSE_URL"
DAGSTER_STORAGE_URL_ENV = "GREENLIGHT_DAGSTER_STORAGE_URL"


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


def dbt_env(url: URL) -> dict[str, str]:
    """Environment variables the dbt profile (dbt_warehouse/profiles.yml) reads.

    A unix-socket URL (the embedded server) carries its socket directory in the ``host``
    query parameter; dbt-postgres passes ``host`` straight to libpq, which treats a path as
    a socket directory.
    """
    host = url.host or str(url.query.get("host") or "") or "127.0.0.1"
    return {
        "GREENLIGHT_DBT_HOST": host,
        "GREENLIGHT_DBT_PORT": str(url.port or 5432),
        "GREENLIGHT_DBT_USER": url.username or "postgres",
        "GREENLIGHT_DBT_PASSWORD": url.password or "",
        "GREENLIGHT_DBT_DBNAME": url.database or "postgres",
    }


def render_url(url: URL) -> str:
    """The URL as text with any password hidden: safe to print and log."""
    return url.render_as_string(hide_password=True)
