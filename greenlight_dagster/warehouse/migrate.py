"""Apply the Alembic migrations: ``upgrade head`` before anything touches the warehouse.

Safe to call from every process at start-up: a transaction-level advisory lock serialises
concurrent callers (Dagster's webserver, daemon and run workers start together), and an
up-to-date database is a no-op.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x6772656E  # arbitrary, stable: "gren"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not conn.execute(text("select to_regclass('ops.alembic_version')")).scalar():
            return None
        return MigrationContext.configure(conn, opts={"version_table_schema": "ops"}).get_current_revision()


def upgrade(engine: Engine, revision: str | None = None) -> str:
    """Bring the warehouse to ``revision`` (default: the head revision); returns it.

    A warehouse already there is left untouched without taking the lock or creating
    anything, so a least-privilege login (``greenlight_loader``, which may create nothing) can
    start; only a release's migrating user needs the rights to move it forward. An earlier
    revision is for tests that prepare the state a migration starts from.
    """
    target = revision or head_revision()
    if current_revision(engine) == target:
        return target
    with engine.begin() as conn:
        conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        conn.execute(text("create schema if not exists ops"))
        cfg = _config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    return target
