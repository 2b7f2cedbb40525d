"""Migrations create the raw and ops schemas, are idempotent, may run on two databases of one server at
once, and 0005 drops only what nothing else uses."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import URL

from greenlight_dagster.warehouse import migrate
from greenlight_dagster.warehouse.embedded import EmbeddedWarehouse
from greenlight_dagster.warehouse.tables import RAW_TABLES, metadata
from greenlight_dagster_tests.databases import migrated_database


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


def _waits_on_a_lock(admin: Engine, database: str) -> bool:
    with admin.connect() as conn:
        return bool(conn.execute(text("select exists (select from pg_stat_activity where datname = :d "
                                      "and wait_event_type = 'Lock')"), {"d": database}).scalar_one())


def test_two_databases_of_one_server_migrate_at_once(server_dir: Path) -> None:
    """The group roles are cluster-wide: a second database's migration that checks for a role while the first
    one's creation is not yet committed must not fail on it (two test workers, or staging and production on one
    server, migrating together). The interleaving is forced: one transaction creates a role and holds it while
    the other migration reaches the same ``create role``, then commits."""
    embedded = EmbeddedWarehouse(server_dir)
    admin = create_engine(embedded.start().set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("create database second"))
    second = create_engine(embedded.url("second"))
    failures: list[BaseException] = []

    def migrate_second() -> None:
        try:
            migrate.upgrade(second)
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)

    try:
        with admin.connect() as first:
            first.execute(text("begin"))
            first.execute(text("create role greenlight_loader nologin"))
            worker = threading.Thread(target=migrate_second)
            worker.start()
            deadline = time.monotonic() + 30
            while not _waits_on_a_lock(admin, "second") and worker.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            first.execute(text("commit"))
            worker.join(60)
        assert not failures, failures
        assert migrate.current_revision(second) == migrate.head_revision()
    finally:
        second.dispose()
        admin.dispose()
        embedded.stop()


#: The push-candidate views as releases before 0005 had dbt build them in schema sync.
OLD_CANDIDATE_VIEWS = ("sync_sf_customer_creates", "sync_sf_job_creates", "sync_pw_progress_updates")
BEFORE_0005 = "0004_dbt_node_marks"


def _with_old_candidate_views(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("create schema sync"))
        for name in OLD_CANDIDATE_VIEWS:
            conn.execute(text(f"create view sync.{name} as select 1 as work_order_id"))


def _relations(engine: Engine, schema: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                                     "where n.nspname = :s"), {"s": schema}).scalars())


def _has_schema(engine: Engine, schema: str) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("select exists (select from pg_namespace where nspname = :s)"),
                                 {"s": schema}).scalar_one())


def test_0005_drops_the_old_candidate_views_and_schema_when_nothing_uses_them(warehouse_url: URL) -> None:
    with migrated_database(warehouse_url, "glmig", revision=BEFORE_0005) as (_, engine):
        _with_old_candidate_views(engine)
        assert migrate.upgrade(engine) == migrate.head_revision()
        assert not _has_schema(engine, "sync")


def test_0005_keeps_what_a_user_object_depends_on(warehouse_url: URL) -> None:
    """No CASCADE: an analyst's view on one old view keeps that view (and so the schema); the others go."""
    with migrated_database(warehouse_url, "glmig", revision=BEFORE_0005) as (_, engine):
        _with_old_candidate_views(engine)
        with engine.begin() as conn:
            conn.execute(text("create view public.open_jobs_report as select * from sync.sync_sf_job_creates"))
        assert migrate.upgrade(engine) == migrate.head_revision()
        assert _relations(engine, "sync") == {"sync_sf_job_creates"}
        with engine.connect() as conn:
            assert conn.execute(text("select work_order_id from public.open_jobs_report")).scalars().all() == [1]


def test_0005_on_a_fresh_database_and_again_changes_nothing(warehouse_url: URL) -> None:
    """A warehouse that never had schema sync migrates to head, and the step's SQL may run twice."""
    with migrated_database(warehouse_url, "glmig") as (_, engine):
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert not _has_schema(engine, "sync")
        step = migrate.MIGRATIONS_DIR / "versions" / "0005_drop_sync_schema.sql"
        with engine.begin() as conn:
            conn.exec_driver_sql(step.read_text())
        assert not _has_schema(engine, "sync")
