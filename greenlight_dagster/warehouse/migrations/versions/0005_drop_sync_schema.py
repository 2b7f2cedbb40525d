"""The push-candidate views leave schema ``sync``: dbt builds them in ``push_candidates`` now.

Why: dbt does not drop relations it no longer builds, so a deployed warehouse would keep stale
``sync.sync_*`` views that an analyst could still query. The SQL beside this file drops each of
the three views and then the schema, never with CASCADE: whatever someone built on them (a view,
a report's table in the schema) is kept, together with what it needs, and a notice says so. The
new schema is readable by the loader and analysts through 0002's and 0003's default privileges
(created by dbt, as ``greenlight_transformer`` or as the migrating user).

Revision ID: 0005_drop_sync_schema
Revises: 0004_dbt_node_marks
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0005_drop_sync_schema"
down_revision = "0004_dbt_node_marks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.get_bind().exec_driver_sql(Path(__file__).with_suffix(".sql").read_text())


def downgrade() -> None:
    """Nothing to restore here: the views are dbt's, and an older release's dbt builds them in ``sync`` again."""
