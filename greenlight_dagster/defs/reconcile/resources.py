"""The push flags as a Dagster resource: environment < ``ops.flags`` < this run's Launchpad config.

No ``from __future__ import annotations``: Dagster reads the field types at class creation.
Every field defaults to "not set here", so the resource adds nothing unless an operator sets
a value for one run in the Launchpad (``resources: {sync_flags: {config: {dry_run: false}}}``).
"""

import os

import dagster as dg
from sqlalchemy import Engine

from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.warehouse.flag_store import effective_flags, stored_overrides


class SyncFlagsResource(dg.ConfigurableResource):
    """Per-run overrides of the sync flags (docs/architecture.md §6); unset fields fall through to
    ``ops.flags`` and then to the ``GREENLIGHT_*`` environment variables."""

    dry_run: bool | None = None
    enable_service_fusion: bool | None = None
    safe_mode: bool | None = None
    safe_mode_max_creates: int | None = None
    pw_verify_strict: bool | None = None
    pw_open_statuses: str | None = None  # comma list, like GREENLIGHT_PW_OPEN_STATUSES

    def run_overrides(self) -> dict[str, str]:
        """The fields set for this run, as the raw text an environment variable would hold."""
        values = {name: getattr(self, name) for name in ("dry_run", "enable_service_fusion", "safe_mode",
                                                         "safe_mode_max_creates", "pw_verify_strict",
                                                         "pw_open_statuses")}
        return {name: str(value).lower() if isinstance(value, bool) else str(value)
                for name, value in values.items() if value is not None}

    def resolve(self, engine: Engine) -> SyncFlags:
        """The flags in force now (read at every call, never cached: a change applies to the next run)."""
        return effective_flags(os.environ, stored_overrides(engine), self.run_overrides())


#: The domain's resources by key, as the Definitions and the tests bind them.
resources = {"sync_flags": SyncFlagsResource()}
