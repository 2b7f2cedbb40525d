"""Automation: the ``sync``, ``backfill``, ``push`` and replay jobs, the business-hours schedule and the sensors."""
