"""Migrations create the raw and ops schemas and are idempotent."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from greenlight_dagster.warehouse import migrate
from greenlight_dagster.warehouse.tables import RAW_TABLES, metadata


def test_upgrade_twice_is_a_no_op(warehouse_engine: Engine) -> None:
    head = migrate.head_revision()
    assert migrate.upgrade(warehouse_engine) == head
    assert migrate.upgrade(warehouse_engine) == head
    assert migrate.current_revision(warehouse_engine) == head


def test_every_owned_table_exists_with_its_columns(warehouse_engine: Engine) -> None:
    insp = inspect(warehouse_engine)
    for table in metadata.sorted_tables:
        assert insp.has_table(table.name, schema=table.schema), table.fullname
        actual = {c["name"] for c in insp.get_columns(table.name, schema=table.schema)}
        assert actual == {c.name for c in table.columns}, table.fullname
    assert {t.fullname for t in RAW_TABLES.values()} >= {"raw.pw_work_orders", "raw.sf_jobs"}
