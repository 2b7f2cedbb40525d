"""The PropertyWare client resource, for Dagster's walk of ``defs/`` (the assets load from ``assets.py``)."""

from __future__ import annotations

import dagster as dg

from greenlight_dagster.defs.propertyware.resources import resources


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources=resources)
