"""Dagster resources shared by every domain: the warehouse connection.

Thin by design: the resource resolves *which* PostgreSQL to use (configured URL or the
embedded server), runs the migrations once per process, and hands out a SQLAlchemy engine.
Everything that reads or writes goes through `greenlight_dagster.warehouse`.
"""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from greenlight_dagster.warehouse import migrate
from greenlight_dagster.warehouse.connection import (
    make_engine,
    normalize_url,
    warehouse_url,
)


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse. ``url`` empty means: ``GREENLIGHT_WAREHOUSE_URL``, else embedded."""

    url: str = ""
    _engine: Engine | None = PrivateAttr(default=None)

    def resolved_url(self) -> URL:
        return normalize_url(self.url) if self.url else warehouse_url()

    def get_engine(self) -> Engine:
        """A migrated engine, created once per process."""
        if self._engine is None:
            engine = make_engine(self.resolved_url())
            migrate.upgrade(engine)
            self._engine = engine
        return self._engine
