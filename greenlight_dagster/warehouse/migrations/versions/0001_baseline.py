"""Baseline: the raw and ops schemas and their first tables.

The DDL lives in ``0001_baseline.sql`` beside this file, generated once from
``warehouse/tables.py`` and frozen: later changes to the tables are new revisions, and the
migration test compares a freshly migrated database with ``tables.py``, so a change made
without its revision fails the suite.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.get_bind().exec_driver_sql(Path(__file__).with_suffix(".sql").read_text())


def downgrade() -> None:
    op.execute("drop schema if exists raw cascade")
    op.execute("drop schema if exists ops cascade")
