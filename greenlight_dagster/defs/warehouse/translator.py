"""How dbt nodes become Dagster assets: keys, groups (one per layer), owners.

Sources ``raw.pw_<entity>`` / ``raw.sf_<entity>`` get the exact keys of the ingestion assets
(``["pw", "<entity>"]``, ``["sf", "<entity>"]``), so the graph runs raw -> staging -> snapshots
-> marts without stubs; ``ops.*`` sources become ``["ops", "<table>"]``. Every model, snapshot
and seed is ``["warehouse", "<name>"]``: dbt names are already unique and layer-prefixed
(stg_, int_, snap_, dim_, fact_, map_, sync_), so a flat namespace stays readable and stable when a
model moves between folders. Kinds (dbt, postgres) come from dagster-dbt itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator

#: The key prefix of every dbt node (``["warehouse", "<name>"]``) and of its groups.
WAREHOUSE_GROUP = "warehouse"
#: Group per dbt layer: a model's first folder under models/ (staging, intermediate, marts, push_candidates), a
#: snapshot, a seed.
LAYER_GROUPS = {"staging": "warehouse_staging", "intermediate": "warehouse_intermediate",
                "snapshot": "warehouse_snapshots", "marts": "warehouse_marts",
                "push_candidates": "warehouse_push_candidates",
                "seed": "warehouse_seeds"}
OWNERS = ["team:greenlight"]
_RAW_PREFIXES = ("pw_", "sf_")


class WarehouseTranslator(DagsterDbtTranslator):
    """Clean, stable asset keys for the dbt project (see the module docstring)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            schema = str(dbt_resource_props.get("schema") or "")
            table = str(dbt_resource_props.get("identifier") or dbt_resource_props["name"])
            if schema == "raw" and table.startswith(_RAW_PREFIXES):
                system, entity = table.split("_", 1)
                return dg.AssetKey([system, entity])
            return dg.AssetKey([schema or str(dbt_resource_props["source_name"]), table])
        return dg.AssetKey([WAREHOUSE_GROUP, str(dbt_resource_props["name"])])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The node's layer, so the asset graph reads raw -> staging -> intermediate -> snapshots -> marts
        -> push candidates."""
        kind = str(dbt_resource_props["resource_type"])
        layer = kind if kind in ("snapshot", "seed") else str(dbt_resource_props["fqn"][1])
        return LAYER_GROUPS.get(layer, WAREHOUSE_GROUP)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return list(OWNERS)
