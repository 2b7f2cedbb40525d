"""Streaming bulk loader for the append-only ``raw.*`` landing tables.

Records arrive as an iterator (page by page from an API client) and leave in batches:
COPY into a per-transaction temp table, then one ``INSERT … SELECT`` that appends only the
rows whose canonical-payload hash differs from the key's latest row. One commit per batch,
so memory is bounded by ``batch_size`` and a run that dies half-way keeps what it landed;
re-running it appends nothing twice (the hash comparison is the idempotency).

Bad input never costs the batch: `RejectedRecord`s, unserialisable payloads and rows the
database refuses go to ``ops.error_log``; text PostgreSQL cannot store (U+0000, lone
surrogates) is cleaned, and the cleaning is logged as a warning.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg2
from psycopg2.extras import execute_values
from sqlalchemy import Engine

from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.warehouse.tables import RAW_TABLES

_BIGINT_MAX = 2**63 - 1
_PRESENT_CHUNK = 100_000


@dataclass
class LoadStats:
    """What one `load_records` call did. ``fetched`` = new + unchanged + duplicates + rejected."""

    fetched: int = 0
    new_versions: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0  # same key again in one batch: the later record wins
    sanitized: int = 0  # payloads whose text had to be cleaned to fit JSONB (still loaded)
    future_dated: int = 0  # modified after ``mark_ceiling``: loaded and flagged, left out of max_modified_at
    max_modified_at: datetime | None = None


@dataclass(frozen=True)
class _Row:
    source_id: int
    modified_at: datetime | None
    payload_json: str
    source_hash: str


def canonical_json(payload: Any) -> str:
    """The one serialisation hashes are computed from: key order and whitespace never matter."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def payload_hash(payload: Any) -> str:
    """sha256 of `canonical_json` (lone surrogates hashed as-is, so the hash reflects the source)."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8", "surrogatepass")).hexdigest()


def _clean_str(value: str) -> str:
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: UTF-8 cannot carry them, U+FFFD marks the spot
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, dict):
        return {(_clean_str(k) if isinstance(k, str) else k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def log_text(value: str | None) -> str | None:
    """Text safe for a PostgreSQL TEXT column, with unstorable characters made visible."""
    if value is None:
        return None
    return value.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def _prepare(record: SourceRecord) -> tuple[_Row | None, str | None, bool]:
    """(row, rejection reason, sanitised?) for one record."""
    sid = record.source_id
    if isinstance(sid, bool) or not isinstance(sid, int) or not 0 <= sid <= _BIGINT_MAX:
        return None, f"source_id {sid!r} is not a non-negative 64-bit integer", False
    modified = record.modified_at
    if modified is not None and not isinstance(modified, datetime):
        return None, f"modified_at {modified!r} is not a datetime", False
    if modified is not None:
        modified = modified.replace(tzinfo=UTC) if modified.tzinfo is None else modified.astimezone(UTC)
    try:
        text = canonical_json(record.payload)
    except (TypeError, ValueError) as exc:
        return None, f"payload is not JSON-serialisable: {exc}", False
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    sanitized = False
    # json.dumps escapes U+0000 as \u0000, which JSONB refuses; a literal "\\u0000" also matches, harmlessly.
    if "\\u0000" in text or not _encodes(text):
        cleaned = canonical_json(_clean(record.payload))
        sanitized = cleaned != text
        text = cleaned
    return _Row(sid, modified, text, digest), None, sanitized


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _copy_line(seq: int, row: _Row) -> str:
    modified = row.modified_at.isoformat() if row.modified_at is not None else "\\N"
    # COPY text format: JSON text has no raw tabs/newlines (json.dumps escapes them); only backslashes need doubling.
    return f"{seq}\t{row.source_id}\t{modified}\t{row.payload_json.replace(chr(92), chr(92) * 2)}\t{row.source_hash}\n"


Record = SourceRecord | RejectedRecord


def _batched(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    it = iter(records)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _table_sql(source: str, entity: str) -> str:
    try:
        table = RAW_TABLES[(source, entity)]
    except KeyError:
        raise ValueError(f"no raw table for source {source!r} entity {entity!r}") from None
    return f'raw."{table.name}"'


def _source_key_id(key: str | None) -> int | None:
    try:
        value = int(key) if key is not None else None
    except ValueError:
        return None
    return value if value is not None and 0 <= value <= _BIGINT_MAX else None


class _BatchWriter:
    """Writes prepared rows through one psycopg2 connection; one transaction per call."""

    def __init__(self, dbapi: Any, table: str, source: str, entity: str, run_id: str) -> None:
        self.dbapi = dbapi
        self.table = table
        self.source = source
        self.entity = entity
        self.run_id = run_id
        self._insert = f"""
            insert into {table} (source_id, source_modified_at, payload, _source_hash, _run_id)
            select s.source_id, s.source_modified_at, s.payload, s._source_hash, %(run_id)s
            from _gl_stage s
            left join lateral (
                select r._source_hash, r._is_deleted from {table} r
                where r.source_id = s.source_id order by r._version_id desc limit 1
            ) latest on true
            where latest._source_hash is distinct from s._source_hash or latest._is_deleted
            order by s.seq
        """

    def write(self, rows: list[_Row], errors: list[tuple[str | None, str, str | None, str]]) -> int:
        """Append changed rows and log ``errors`` atomically; returns the number of new versions."""
        with self.dbapi.cursor() as cur:
            # Serialise writers of one table: two runs must not both append the same version.
            cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (self.table,))
            new = 0
            if rows:
                cur.execute(
                    "create temp table _gl_stage (seq int, source_id bigint, source_modified_at timestamptz,"
                    " payload jsonb, _source_hash text) on commit drop"
                )
                data = "".join(_copy_line(i, row) for i, row in enumerate(rows)).encode("utf-8")
                cur.copy_expert("copy _gl_stage from stdin", io.BytesIO(data))
                cur.execute(self._insert, {"run_id": self.run_id})
                new = cur.rowcount
            if errors:
                execute_values(
                    cur,
                    "insert into ops.error_log (run_id, source, entity, source_key, reason, payload, severity)"
                    " values %s",
                    [(self.run_id, self.source, self.entity, key, log_text(reason), log_text(payload), severity)
                     for key, reason, payload, severity in errors],
                )
        self.dbapi.commit()
        return new

    def write_batch(self, rows: list[_Row], errors: list[tuple[str | None, str, str | None, str]]) -> tuple[int, int]:
        """Fast path for the whole batch; if the database refuses a row, isolate it row by row.

        Returns (new versions, rows the database refused).
        """
        try:
            return self.write(rows, errors), 0
        except psycopg2.DataError:
            self.dbapi.rollback()
        new = refused = 0
        for row in rows:
            try:
                new += self.write([row], [])
            except psycopg2.DataError as exc:
                self.dbapi.rollback()
                refused += 1
                errors.append((str(row.source_id), f"warehouse refused the record: {exc.pgerror or exc}".strip(),
                               row.payload_json, "error"))
        self.write([], errors)
        return new, refused


def load_records(engine: Engine, source: str, entity: str, records: Iterable[Record], *,
                 run_id: str, batch_size: int = 5000, seen_ids: array[int] | None = None,
                 mark_ceiling: datetime | None = None) -> LoadStats:
    """Stream ``records`` into ``raw.{source}_{entity}``; only changed versions become rows.

    ``seen_ids`` (an ``array('q')``, 8 bytes a key) collects every key the source served,
    rejected ones included, for `mark_deleted` after a full refresh. A record modified after
    ``mark_ceiling`` is loaded like any other, with a warning in ``ops.error_log``, but does not
    count towards ``max_modified_at``: the high-water mark must not follow it into the future.
    """
    table = _table_sql(source, entity)
    stats = LoadStats()
    conn = engine.raw_connection()
    try:
        dbapi: Any = conn.dbapi_connection
        dbapi.set_client_encoding("UTF8")
        writer = _BatchWriter(dbapi, table, source, entity, run_id)
        for batch in _batched(records, batch_size):
            rows: dict[int, _Row] = {}
            errors: list[tuple[str | None, str, str | None, str]] = []
            for record in batch:
                stats.fetched += 1
                if isinstance(record, RejectedRecord):
                    stats.rejected += 1
                    errors.append((record.source_key, record.reason, record.raw, "error"))
                    key_id = _source_key_id(record.source_key)
                    if seen_ids is not None and key_id is not None:
                        seen_ids.append(key_id)
                    continue
                row, reason, sanitized = _prepare(record)
                if row is None:
                    stats.rejected += 1
                    errors.append((str(record.source_id), reason or "invalid record", repr(record.payload), "error"))
                    continue
                if sanitized:
                    stats.sanitized += 1
                    errors.append((str(row.source_id), "payload text cleaned to fit JSONB: removed U+0000 and/or "
                                   "replaced lone surrogates with U+FFFD; the hash is of the text as received",
                                   None, "warning"))
                if row.source_id in rows:
                    stats.duplicates += 1
                    del rows[row.source_id]  # keep the last, in its (later) position
                rows[row.source_id] = row
                if seen_ids is not None:
                    seen_ids.append(row.source_id)
                if row.modified_at is not None and mark_ceiling is not None and row.modified_at > mark_ceiling:
                    stats.future_dated += 1
                    errors.append((str(row.source_id), f"last modified {row.modified_at.isoformat()} is in the "
                                   "future: loaded, but the high-water mark does not move there", None, "warning"))
                elif row.modified_at is not None and (stats.max_modified_at is None
                                                      or row.modified_at > stats.max_modified_at):
                    stats.max_modified_at = row.modified_at
            new, refused = writer.write_batch(list(rows.values()), errors)
            stats.new_versions += new
            stats.rejected += refused
            stats.unchanged += len(rows) - new - refused
    finally:
        conn.close()
    return stats


def mark_deleted(engine: Engine, source: str, entity: str, present_ids: Iterable[int], run_id: str) -> int:
    """Append a tombstone for every live key the source no longer serves; returns how many.

    Call only after a *full* refresh that completed without error: ``present_ids`` must be
    every key the source served, or live records would be buried. The tombstone carries the
    last payload, so history shows what disappeared.
    """
    table = _table_sql(source, entity)
    conn = engine.raw_connection()
    try:
        dbapi: Any = conn.dbapi_connection
        with dbapi.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (table,))
            cur.execute("create temp table _gl_present (source_id bigint) on commit drop")
            ids = iter(present_ids)
            while chunk := list(itertools.islice(ids, _PRESENT_CHUNK)):
                cur.copy_expert("copy _gl_present from stdin",
                                io.BytesIO("".join(f"{int(i)}\n" for i in chunk).encode("ascii")))
            cur.execute("analyze _gl_present")
            cur.execute(
                f"""
                insert into {table} (source_id, source_modified_at, payload, _source_hash, _is_deleted, _run_id)
                select l.source_id, l.source_modified_at, l.payload, l._source_hash, true, %(run_id)s
                from (select distinct on (source_id) source_id, source_modified_at, payload, _source_hash, _is_deleted
                      from {table} order by source_id, _version_id desc) l
                where not l._is_deleted
                  and not exists (select 1 from _gl_present p where p.source_id = l.source_id)
                order by l.source_id
                """,
                {"run_id": run_id},
            )
            buried = cur.rowcount
        dbapi.commit()
    finally:
        conn.close()
    return int(buried)
