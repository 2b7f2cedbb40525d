"""The one `Definitions` object of the GreenLight Sync code location. Nothing else lives here.

Every run - ``sync``, ``backfill``, ``push``, and what the UI's *Materialize* and backfill dialogs
launch - executes its steps one after the other in the run worker's process, as ``greenlight
sync`` does. Dagster's default multiprocess executor starts a Python process per step, each
loading the definitions again: 32 step processes on a 2-core machine made a UI-launched sync
~11x slower than the same work from the command line (issue 20), for no gain - each API has one
request stream at a time anyway (the ``propertyware_api`` / ``servicefusion_api`` pools, which
hold across runs whatever the executor) and dbt builds the whole warehouse in one step.
"""

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
    executor=dg.in_process_executor,
    resources={"warehouse": WarehouseResource(),
               **propertyware.resources, **servicefusion.resources, **warehouse.resources, **reconcile.resources},
)
