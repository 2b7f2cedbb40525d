"""The one `Definitions` object of the GreenLight Sync code location. Nothing else lives here."""

from __future__ import annotations

import dagster as dg

from greenlight_dagster.defs import automation, propertyware, push, reconcile, servicefusion, warehouse
from greenlight_dagster.defs.automation.jobs import replay_dead_letters_job
from greenlight_dagster.defs.reconcile import report
from greenlight_dagster.defs.resources import WarehouseResource
from greenlight_dagster.defs.secrets import load_secrets

load_secrets()  # GREENLIGHT_SECRETS=ssm: export the SSM parameters before any resource reads its dg.EnvVar

_DOMAINS = (propertyware, servicefusion, warehouse, reconcile, push, report)

defs = dg.Definitions(
    assets=[asset for domain in _DOMAINS for asset in domain.assets],
    asset_checks=[check for domain in _DOMAINS for check in domain.asset_checks],
    jobs=[*automation.jobs, replay_dead_letters_job],
    schedules=automation.schedules,
    sensors=automation.sensors,
    resources={"warehouse": WarehouseResource(),
               **propertyware.resources, **servicefusion.resources, **warehouse.resources, **reconcile.resources},
)
