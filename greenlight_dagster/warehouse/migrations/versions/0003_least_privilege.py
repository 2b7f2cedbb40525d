"""Least privilege that holds in practice: raw.* append-only for the loader, the loader reads dbt's output.

Why: 0002 gave the loader UPDATE and DELETE on ``raw.*``, so "append-only" was a comment, and
nothing dbt built was readable by the loader, so a code location logged in as a loader-only
user could not read the push candidates (``sync.*``) or the mappings (``marts.*``). The SQL
beside this file takes the changing privileges on ``raw`` back, and lets the loader read what
dbt builds - as ``greenlight_transformer`` (its own login, docs/deploy.md) or as the migrating
user (the local embedded server) - through default privileges and, for what already exists,
direct grants (decision 0015).

Revision ID: 0003_least_privilege
Revises: 0002_roles
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0003_least_privilege"
down_revision = "0002_roles"
branch_labels = None
depends_on = None

LOADER = "greenlight_loader"


def upgrade() -> None:
    op.get_bind().exec_driver_sql(Path(__file__).with_suffix(".sql").read_text())


def downgrade() -> None:
    """Back to 0002's grants: the loader may change raw.* again and reads nothing dbt built."""
    op.execute(f"grant update, delete on all tables in schema raw to {LOADER}")
    op.execute(f"alter default privileges in schema raw grant update, delete on tables to {LOADER}")
    for owner in ("for role greenlight_transformer ", ""):
        op.execute(f"alter default privileges {owner}revoke select on tables from {LOADER}")
        op.execute(f"alter default privileges {owner}revoke usage on schemas from {LOADER}")
