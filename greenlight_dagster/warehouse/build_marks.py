"""The state the incremental warehouse build compares: source markers, node marks, existing relations.

A *marker* summarises a source table cheaply and changes whenever its content does:

* ``raw.*`` is append-only (by privilege), so its newest version - id and load time, one index
  probe - moves with every landed row. The load time matters when a table is emptied and
  reloaded (a reset restarts the ids): the same id then comes with a later time.
* ``ops.flags`` is tiny and updated in place: its row count and latest update.

Other ``ops`` tables are read only by views, which are always current, so they carry no marker;
``test_every_source_a_table_reads_has_a_marker`` checks that against the manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Engine, select, text
from sqlalchemy.dialects.postgresql import insert

from greenlight_dagster.core.build_plan import NodeMark
from greenlight_dagster.warehouse.tables import RAW_TABLES, dbt_node_marks

#: source table -> the query of its marker (one text value).
MARKER_QUERIES: dict[str, str] = {
    **{table.fullname: f"select coalesce(max(_version_id)::text || '@' || max(_loaded_at)::text, 'empty') "
                       f"from (select _version_id, _loaded_at from {table.fullname} "
                       f"order by _version_id desc limit 1) newest"
       for table in RAW_TABLES.values()},
    "ops.flags": "select count(*)::text || '@' || coalesce(max(updated_at)::text, '') from ops.flags",
}


def source_markers(engine: Engine, tables: Iterable[str]) -> dict[str, str]:
    """The current marker of each of ``tables`` that has one (one short query each, one connection)."""
    with engine.connect() as conn:
        return {table: str(conn.execute(text(MARKER_QUERIES[table])).scalar_one())
                for table in sorted(set(tables)) if table in MARKER_QUERIES}


def node_marks(engine: Engine) -> dict[str, NodeMark]:
    """Every node's last recorded build."""
    with engine.connect() as conn:
        rows = conn.execute(select(dbt_node_marks)).all()
    return {row.unique_id: NodeMark(fingerprint=row.fingerprint, markers=row.markers, run_id=row.run_id)
            for row in rows}


def record_builds(engine: Engine, built: Mapping[str, Mapping[str, str]], *, fingerprint: str, run_id: str) -> None:
    """Record that each node of ``built`` (unique id -> its sources' markers at the build's start) was built."""
    if not built:
        return
    stmt = insert(dbt_node_marks).values([
        {"unique_id": uid, "fingerprint": fingerprint, "markers": dict(markers), "run_id": run_id}
        for uid, markers in built.items()])
    stmt = stmt.on_conflict_do_update(index_elements=[dbt_node_marks.c.unique_id], set_={
        "fingerprint": stmt.excluded.fingerprint, "markers": stmt.excluded.markers,
        "run_id": stmt.excluded.run_id, "built_at": text("now()")})
    with engine.begin() as conn:
        conn.execute(stmt)


def existing_relations(engine: Engine, schemas: Iterable[str]) -> set[tuple[str, str]]:
    """(schema, name) of every table and view in ``schemas``."""
    with engine.connect() as conn:
        rows = conn.execute(text("select table_schema, table_name from information_schema.tables "
                                 "where table_schema = any(:schemas)"), {"schemas": sorted(set(schemas))}).all()
    return {(row.table_schema, row.table_name) for row in rows}
