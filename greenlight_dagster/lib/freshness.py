"""Freshness of the raw ingestion assets during business hours, as Dagster freshness policies.

The other operational checks already exist where their data lives: unit routing, unmapped
statuses and mapping coverage under target (95 %, WARN) are dbt tests that dagster-dbt turns
into asset checks on ``warehouse/int_pw_work_orders``, ``warehouse/dim_status`` and
``warehouse/map_customer``; duplicate SF jobs and dead letters are checks on
``reconcile/push_plan``. What was missing is "the raw data stopped arriving".

Why a policy and not a freshness *check*: since Dagster 1.12 freshness policies supersede the
``build_last_update_freshness_checks`` builders (which now warn on use), are evaluated by the
daemon that `make dev` and production already run - no extra sensor to forget to turn on - and
show on the asset page and in the catalog's health, where an operator looks first.

The rule follows the business-hours sync (every 30 minutes, 12:00-23:59 UTC, Monday-Friday):
at every full hour from 13:00 to 23:00 UTC on weekdays, each raw asset must have been
materialized within the past hour, which tolerates one missed or slow run. Outside those hours
the last deadline is the one that counts, so nights and weekends never raise alarms.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

BUSINESS_HOURS_DEADLINES = "0 13-23 * * 1-5"
RAW_FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron=BUSINESS_HOURS_DEADLINES, lower_bound_delta=timedelta(hours=1),
                                        timezone="UTC")


def with_business_hours_freshness(raw_assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The raw ingestion assets with `RAW_FRESHNESS` attached (keys, checks and partitions unchanged)."""
    return list(dg.map_asset_specs(lambda spec: spec.replace_attributes(freshness_policy=RAW_FRESHNESS),
                                   raw_assets))
