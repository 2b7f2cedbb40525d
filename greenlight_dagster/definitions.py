"""The one `Definitions` object of the GreenLight Sync code location. Nothing else lives here."""

from __future__ import annotations

import dagster as dg

from greenlight_dagster.defs import automation, propertyware, servicefusion
from greenlight_dagster.defs.resources import WarehouseResource

defs = dg.Definitions(
    assets=[*propertyware.assets, *servicefusion.assets],
    asset_checks=[*propertyware.asset_checks, *servicefusion.asset_checks],
    jobs=automation.jobs,
    schedules=automation.schedules,
    sensors=automation.sensors,
    resources={"warehouse": WarehouseResource(), **propertyware.resources, **servicefusion.resources},
)
