"""ops.watermarks.settled_at: a quiet entity stops re-reading the overlap before its mark.

Why: an incremental read starts an overlap (5 minutes) before the high-water mark, against late
commits and clock skew. For an entity that stopped changing the mark stays put, so every sync
re-read the records of those last 5 minutes - after a bulk edit of 300 SF customers, 7 pages of
the 60-a-minute SF budget on every sync, for good. Once a read that started an overlap after the
mark moved has completed, nothing at or before the mark can still appear; ``settled_at`` records
that, and the next reads start at the mark itself. Moving the mark clears it.

Revision ID: 0006_watermark_settled
Revises: 0005_drop_sync_schema
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_watermark_settled"
down_revision = "0005_drop_sync_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("watermarks", sa.Column(
        "settled_at", sa.DateTime(timezone=True),
        comment="when a read that started an overlap after the move saw everything up to high_water: "
                "from then on reads start at the mark, not an overlap before it; NULL until then"),
        schema="ops")
    op.alter_column("watermarks", "updated_at", schema="ops", comment="when high_water last moved",
                    existing_type=sa.DateTime(timezone=True), existing_nullable=False)


def downgrade() -> None:
    op.drop_column("watermarks", "settled_at", schema="ops")
