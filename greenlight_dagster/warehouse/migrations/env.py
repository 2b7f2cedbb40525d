"""Alembic environment: always run with a connection handed in by `greenlight_dagster.warehouse.migrate`."""

from __future__ import annotations

from alembic import context

from greenlight_dagster.warehouse.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, include_schemas=True,
                  version_table_schema="ops")
with context.begin_transaction():
    context.run_migrations()
