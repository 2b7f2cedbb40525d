"""The ``sync_flags`` resource, for Dagster's walk of ``defs/`` (assets load from ``assets.py`` and ``report.py``)."""

from __future__ import annotations

import dagster as dg

from greenlight_dagster.defs.reconcile.resources import resources


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources=resources)
