"""Dagster's run, event-log and schedule storage: found, and created if need be, like the warehouse.

``dagster.yaml`` names `GreenlightDagsterStorage` rather than ``storage: postgres`` so that every
Dagster process finds its storage with no variable set: the ``dagster``/``dg`` commands typed in
a fresh clone as much as `greenlight dev`. The storage is ``GREENLIGHT_DAGSTER_STORAGE_URL``
when set, else a ``dagster`` database beside the warehouse (``GREENLIGHT_WAREHOUSE_URL``, else
the embedded server). A missing database is created when the login may; otherwise one sentence
names the database to create and the variable to set, where dagster-postgres would retry six
times and end in a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from greenlight_dagster.warehouse.connection import (
    DAGSTER_STORAGE_URL_ENV,
    WAREHOUSE_URL_ENV,
    dagster_storage_url,
    render_url,
    warehouse_url,
)
from greenlight_dagster.warehouse.embedded import ALREADY_CREATED

#: SQLSTATE of a ``create database`` the login may not run.
_INSUFFICIENT_PRIVILEGE = "42501"
#: Databases every PostgreSQL server has, to connect to while the storage database does not exist yet.
_MAINTENANCE_DATABASES = ("postgres", "template1")


class StorageUnavailable(RuntimeError):
    """Dagster's storage database cannot be used; the message is one sentence saying what to do."""


def _first_line(exc: DBAPIError) -> str:
    return (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]


def _is_missing_database(exc: OperationalError, name: str) -> bool:
    # Connection failures carry no SQLSTATE in psycopg2; the server's message is the only signal.
    return f'database "{name}" does not exist' in str(exc.orig)


def _try_connect(url: URL) -> OperationalError | None:
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect():
            return None
    except OperationalError as exc:
        return exc
    finally:
        engine.dispose()


def _cannot_create(url: URL, detail: str) -> StorageUnavailable:
    name, user = url.database, url.username or "the configured user"
    return StorageUnavailable(
        f'Dagster\'s storage database "{name}" does not exist on {url.host or url.query.get("host")} and {user} '
        f'cannot create it ({detail}): create it (`create database "{name}" owner "{user}"`) or set '
        f"{DAGSTER_STORAGE_URL_ENV} to an existing database Dagster may use."
    )


def _create_database(url: URL, maintenance: tuple[str, ...]) -> None:
    """Create ``url``'s database through the first maintenance database we may connect to."""
    name = str(url.database)
    quoted = '"' + name.replace('"', '""') + '"'
    detail = "no database to connect to for creating it"
    for database in dict.fromkeys(maintenance):
        engine = create_engine(url.set(database=database), poolclass=NullPool, isolation_level="AUTOCOMMIT",
                               connect_args={"connect_timeout": 10})
        try:
            with engine.connect() as conn:
                conn.execute(text(f"create database {quoted}"))
            return
        except OperationalError as exc:  # that maintenance database is missing or closed to us: try the next
            detail = _first_line(exc)
        except DBAPIError as exc:
            code = getattr(exc.orig, "pgcode", None)
            if code in ALREADY_CREATED:
                return
            if code == _INSUFFICIENT_PRIVILEGE:
                raise _cannot_create(url, "no CREATEDB privilege") from exc
            raise _cannot_create(url, _first_line(exc)) from exc
        finally:
            engine.dispose()
    raise _cannot_create(url, detail)


def ensure_storage_database(env: Mapping[str, str] = os.environ) -> URL:
    """The storage URL in force, its database created first when missing and the login may.

    Raises `StorageUnavailable` (one sentence) when the server cannot be reached or the
    database is missing and cannot be created.
    """
    configured = bool(env.get(DAGSTER_STORAGE_URL_ENV))
    url = dagster_storage_url()
    failure = _try_connect(url)
    if failure is None:
        return url
    if not _is_missing_database(failure, str(url.database)):
        source = DAGSTER_STORAGE_URL_ENV if configured else f"{WAREHOUSE_URL_ENV} (the server Dagster's storage shares)"
        raise StorageUnavailable(
            f"cannot connect to Dagster's storage at {render_url(url)} ({_first_line(failure)}): check {source}."
        )
    # Beside the warehouse, the warehouse's own database is known to exist and to admit this login.
    beside = () if configured else (str(warehouse_url().database),)
    _create_database(url, (*beside, *_MAINTENANCE_DATABASES))
    return url


class GreenlightDagsterStorage(DagsterPostgresStorage):
    """dagster-postgres storage whose URL is resolved (and its database ensured) when an instance loads."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> GreenlightDagsterStorage:
        url = ensure_storage_database()
        return cls(postgres_url=url.render_as_string(hide_password=False), inst_data=inst_data)
