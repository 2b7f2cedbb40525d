"""Least-privilege roles: loader (raw/ops writes), transformer (dbt), analyst (read-only).

Why in a migration: grants are schema, and a deployment whose roles drift from its tables is
how a read-only dashboard account ends up able to ``DELETE``. The SQL beside this file (same
pattern as 0001) creates the three NOLOGIN group roles if the server lacks them, grants on
what exists and sets default privileges for what migrations and dbt create later. Operators
grant the roles to login users (docs/deploy.md). The migrating user needs CREATEROLE (RDS's
and Supabase's admin users have it; the embedded server's superuser does).

Revision ID: 0002_roles
Revises: 0001_baseline
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0002_roles"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

ROLES = ("greenlight_loader", "greenlight_transformer", "greenlight_analyst")


def upgrade() -> None:
    op.get_bind().exec_driver_sql(Path(__file__).with_suffix(".sql").read_text())


def downgrade() -> None:
    """Take this database's grants back; the roles stay (they are cluster-wide, other databases may use them)."""
    for role in ROLES:
        op.execute(f"alter default privileges in schema raw, ops revoke all on tables from {role}")
        op.execute(f"alter default privileges in schema raw, ops revoke all on sequences from {role}")
        op.execute(f"alter default privileges revoke all on tables from {role}")
        op.execute(f"alter default privileges revoke all on schemas from {role}")
        op.execute(f"alter default privileges for role greenlight_transformer revoke all on tables from {role}")
        op.execute(f"alter default privileges for role greenlight_transformer revoke all on schemas from {role}")
        op.execute(f"revoke all on all tables in schema raw, ops from {role}")
        op.execute(f"revoke all on all sequences in schema raw, ops from {role}")
        op.execute(f"revoke all on schema raw, ops from {role}")
        op.execute(f"do $$ begin execute 'revoke all on database ' || quote_ident(current_database()) "
                   f"|| ' from {role}'; end $$")
