"""ops.dbt_node_marks: what each warehouse node was last built from, so a sync builds only what changed.

Why: a sync that landed nothing still ran every dbt node (issue 19). The marks let the dbt
step skip a node whose dbt project files and upstream source tables are as they were at its
last build (decision 0017). The loader role gets its privileges from 0002's default
privileges on ``ops``.

Revision ID: 0004_dbt_node_marks
Revises: 0003_least_privilege
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004_dbt_node_marks"
down_revision = "0003_least_privilege"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dbt_node_marks",
        sa.Column("unique_id", sa.Text(), primary_key=True,
                  comment="dbt unique id of a model, snapshot or seed"),
        sa.Column("fingerprint", sa.Text(), nullable=False,
                  comment="sha256 of the dbt project files it was built from"),
        sa.Column("markers", JSONB(), nullable=False, comment="source table -> its marker when the build started"),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="ops",
        comment="what each warehouse node was last built from; a sync rebuilds only nodes whose inputs moved",
    )


def downgrade() -> None:
    op.drop_table("dbt_node_marks", schema="ops")
