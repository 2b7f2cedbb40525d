"""Where a run's flags come from: the environment, ``ops.flags``, the run's own overrides.

Precedence, weakest first: the environment (``GREENLIGHT_*``, docs/operations.md §1), then operator
overrides in ``ops.flags`` (one row per flag, named like the `SyncFlags` field, value written
like the environment variable), then per-run overrides (the Launchpad). Flags are resolved at
the start of every run, so a change takes effect on the next run with no deploy. An invalid
value anywhere is an error naming its origin, never a silent default (see `core.flags`).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from greenlight_dagster.core.flags import ENV_VARS, SyncFlags
from greenlight_dagster.warehouse.tables import flags as flags_table


def stored_overrides(engine: Engine) -> dict[str, str]:
    """``ops.flags`` rows as {flag name: raw value}; unknown names are an error (a typo must not be ignored)."""
    with engine.connect() as conn:
        rows = {str(row.name): str(row.value) for row in conn.execute(select(flags_table.c.name, flags_table.c.value))}
    unknown = sorted(set(rows) - set(ENV_VARS))
    if unknown:
        raise ValueError(f"ops.flags has unknown flag name(s) {unknown}; expected some of {sorted(ENV_VARS)}")
    return rows


def set_override(engine: Engine, name: str, value: str, *, updated_by: str | None = None) -> None:
    """Store an operator override (validated by parsing it first)."""
    if name not in ENV_VARS:
        raise ValueError(f"unknown flag {name!r}; expected one of {sorted(ENV_VARS)}")
    SyncFlags.from_env({ENV_VARS[name]: value})
    with engine.begin() as conn:
        statement = pg_insert(flags_table).values(name=name, value=value, updated_by=updated_by)
        conn.execute(statement.on_conflict_do_update(
            index_elements=["name"], set_={"value": value, "updated_by": updated_by,
                                           "updated_at": statement.excluded.updated_at}))


def effective_flags(env: Mapping[str, str], stored: Mapping[str, str],
                    run_overrides: Mapping[str, str] | None = None) -> SyncFlags:
    """The flags of one run: ``env`` < ``stored`` (ops.flags) < ``run_overrides``, all raw text."""
    merged = dict(env)
    for layer in (stored, run_overrides or {}):
        merged.update({ENV_VARS[name]: value for name, value in layer.items()})
    return SyncFlags.from_env(merged)
