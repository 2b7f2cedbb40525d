"""Reconciliation: ``assets``, ``asset_checks`` and ``resources`` for the Definitions.

``resources`` holds ``sync_flags``, which the push assets (``defs.push``) use as well.
"""

from greenlight_dagster.defs.reconcile.assets import (
    PUSH_PLAN,
    attention_items,
    dead_letters,
    no_duplicate_sf_jobs,
    push_plan,
)
from greenlight_dagster.defs.reconcile.resources import SyncFlagsResource

assets = [push_plan]
asset_checks = [no_duplicate_sf_jobs, dead_letters, attention_items]
resources = {"sync_flags": SyncFlagsResource()}

__all__ = ["PUSH_PLAN", "SyncFlagsResource", "asset_checks", "assets", "resources"]
