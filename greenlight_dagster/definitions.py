"""The one `Definitions` object of the GreenLight Sync code location. Nothing else lives here."""

from __future__ import annotations

import dagster as dg

from greenlight_dagster.defs.resources import WarehouseResource

defs = dg.Definitions(
    resources={"warehouse": WarehouseResource()},
)
