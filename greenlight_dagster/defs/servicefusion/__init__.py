"""ServiceFusion ingestion: ``assets``, ``asset_checks`` and ``resources`` for the Definitions."""

from __future__ import annotations

from greenlight_dagster.defs.servicefusion.assets import asset_checks, assets
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource, default_resource

resources = {"servicefusion": default_resource()}

__all__ = ["ServiceFusionResource", "asset_checks", "assets", "resources"]
