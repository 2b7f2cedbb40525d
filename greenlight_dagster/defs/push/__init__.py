"""Push: ``assets`` and ``asset_checks`` for the Definitions (resources come from ``defs.reconcile``)."""

import dagster as dg

from greenlight_dagster.defs.push.assets import (
    PW_WORK_ORDERS,
    SF_CUSTOMERS,
    SF_JOBS,
    pw_work_orders,
    sf_customers,
    sf_jobs,
)

assets = [sf_customers, sf_jobs, pw_work_orders]
asset_checks: list[dg.AssetChecksDefinition] = []

__all__ = ["PW_WORK_ORDERS", "SF_CUSTOMERS", "SF_JOBS", "asset_checks", "assets"]
