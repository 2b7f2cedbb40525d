"""Dagster pieces the domains under ``defs/`` share: the raw-asset factory, the warehouse resource,
freshness policies, per-run circuit breakers, alerts, endpoints and secrets loading.

They live outside ``defs/`` because Dagster loads that folder by walking it (``[tool.dg]``): a
module there is a place definitions come from, a module here is a tool for writing them.
"""
