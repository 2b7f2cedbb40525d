"""The dbt CLI resource, bound to the warehouse connection in force.

dbt reads its connection from ``DBT_GREENLIGHT_*`` and ``DBT_ENV_SECRET_GREENLIGHT_PASSWORD``
(dbt_warehouse/profiles.yml; `warehouse.connection.dbt_env`). This resource publishes them
before every invocation - from ``url`` when the caller names the database (the dbt assets pass
their ``warehouse`` resource's), else ``warehouse_url`` config, else the project-wide rule
(``GREENLIGHT_WAREHOUSE_URL``, else the embedded server) - so any caller reaches the intended
PostgreSQL without remembering to export anything.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from dagster_dbt import DbtCliInvocation, DbtCliResource
from sqlalchemy.engine import URL

from greenlight_dagster.defs.warehouse.project import dbt_executable, dbt_project
from greenlight_dagster.warehouse.connection import dbt_env, normalize_url, warehouse_url


class WarehouseDbtCliResource(DbtCliResource):
    """`DbtCliResource` that exports the warehouse connection before running dbt."""

    warehouse_url: str = ""

    def resolved_warehouse_url(self) -> URL:
        return normalize_url(self.warehouse_url) if self.warehouse_url else warehouse_url()

    def cli(  # type: ignore[override]
        self, args: Sequence[str], *, url: URL | None = None, **kwargs: Any
    ) -> DbtCliInvocation:
        """``dbt <args>`` against ``url`` (default: `resolved_warehouse_url`)."""
        os.environ.update(dbt_env(url if url is not None else self.resolved_warehouse_url()))
        return super().cli(args, **kwargs)


def make_dbt_resource(url: str = "") -> WarehouseDbtCliResource:
    """The resource for ``dbt_warehouse`` (profiles.yml sits in the project dir)."""
    return WarehouseDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable(), warehouse_url=url)
