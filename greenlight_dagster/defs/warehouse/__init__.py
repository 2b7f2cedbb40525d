"""Warehouse domain: the dbt project (staging -> snapshots -> marts) as assets and checks.

Import into definitions.py::

    from greenlight_dagster.defs import warehouse

    dg.Definitions(assets=[*warehouse.assets], resources={..., **warehouse.resources})

dbt tests are asset checks attached to the dbt assets (dagster-dbt default), so
``asset_checks`` is empty. The assets also need the shared ``warehouse`` resource.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from greenlight_dagster.defs.warehouse.assets import dbt_warehouse_assets
from greenlight_dagster.defs.warehouse.resources import WarehouseDbtCliResource, make_dbt_resource

assets: list[dg.AssetsDefinition] = [dbt_warehouse_assets]
asset_checks: list[dg.AssetChecksDefinition] = []
resources: dict[str, Any] = {"dbt": make_dbt_resource()}

__all__ = ["WarehouseDbtCliResource", "asset_checks", "assets", "dbt_warehouse_assets", "resources"]
