"""The roles of migration 0002 hold on the session warehouse: the analyst reads and changes nothing.

Each check runs under ``SET ROLE`` inside a transaction that is rolled back, so a privilege that
wrongly exists cannot leave a trace in the shared warehouse either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import ProgrammingError

INSUFFICIENT_PRIVILEGE = "42501"  # "permission denied" and "must be owner" alike
ANALYST, LOADER, TRANSFORMER = "greenlight_analyst", "greenlight_loader", "greenlight_transformer"

WRITES = {
    "insert": "insert into raw.pw_work_orders (source_id, payload, _source_hash, _run_id) values (1, '{}', 'h', 'r')",
    "update": "update ops.flags set value = 'x'",
    "delete": "delete from ops.sync_ledger",
    "truncate": "truncate raw.sf_jobs",
    "create table": "create table raw.intruder (id int)",
    "create in ops": "create table ops.intruder (id int)",
    "create schema": "create schema intruder",
    "drop": "drop table ops.flags",
    "alter": "alter table ops.flags add column intruder int",
}


@pytest.fixture
def as_role(warehouse_engine: Engine) -> Iterator[Callable[[str], Connection]]:
    """``as_role(role)`` -> a connection in a transaction under that role (rolled back afterwards)."""
    opened: list[Connection] = []

    def connect(role: str) -> Connection:
        conn = warehouse_engine.connect()
        opened.append(conn)
        conn.begin()
        conn.execute(text(f"set local role {role}"))
        return conn

    yield connect
    for conn in opened:
        conn.rollback()
        conn.close()


def _refused(conn: Connection, statement: str) -> bool:
    """Whether PostgreSQL refuses ``statement`` for lack of privilege (a savepoint keeps the transaction usable)."""
    savepoint = conn.begin_nested()
    try:
        conn.execute(text(statement))
    except ProgrammingError as exc:
        savepoint.rollback()
        return getattr(exc.orig, "pgcode", None) == INSUFFICIENT_PRIVILEGE
    savepoint.rollback()
    return False


@pytest.mark.parametrize("what", sorted(WRITES))
def test_the_analyst_role_cannot_change_anything(as_role: Callable[[str], Connection], what: str) -> None:
    assert _refused(as_role(ANALYST), WRITES[what]), f"{ANALYST} may {what}"


def test_the_analyst_role_reads_raw_and_ops(as_role: Callable[[str], Connection]) -> None:
    conn = as_role(ANALYST)
    assert conn.execute(text("select count(*) from raw.pw_work_orders")).scalar() is not None
    assert conn.execute(text("select count(*) from ops.sync_ledger")).scalar() is not None


def test_the_loader_writes_raw_and_ops_but_creates_nothing(as_role: Callable[[str], Connection]) -> None:
    conn = as_role(LOADER)
    assert not _refused(conn, WRITES["insert"])
    assert not _refused(conn, WRITES["update"])
    for what in ("create table", "create in ops", "create schema", "drop", "alter"):
        assert _refused(conn, WRITES[what]), f"{LOADER} may {what}"


def test_the_transformer_reads_sources_and_builds_its_own_schemas(as_role: Callable[[str], Connection]) -> None:
    conn = as_role(TRANSFORMER)
    assert conn.execute(text("select count(*) from raw.sf_jobs")).scalar() is not None
    assert not _refused(conn, "create schema transformer_probe")
    assert _refused(conn, WRITES["insert"]) and _refused(conn, WRITES["create table"])


def test_raw_is_append_only_for_the_loader_by_privilege(as_role: Callable[[str], Connection]) -> None:
    conn = as_role(LOADER)
    assert not _refused(conn, WRITES["insert"])
    for statement in ("update raw.pw_work_orders set payload = '{}'", "delete from raw.pw_work_orders",
                      "truncate raw.sf_jobs"):
        assert _refused(conn, statement), f"{LOADER} may: {statement}"
    assert not _refused(conn, "delete from ops.sync_ledger where false")  # the outbox is the loader's to manage
