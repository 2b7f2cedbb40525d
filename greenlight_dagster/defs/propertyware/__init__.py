"""PropertyWare ingestion: ``assets``, ``asset_checks`` and ``resources`` for the Definitions."""

from __future__ import annotations

from greenlight_dagster.defs.propertyware.assets import asset_checks, assets
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource, default_resource

resources = {"propertyware": default_resource()}

__all__ = ["PropertyWareResource", "asset_checks", "assets", "resources"]
