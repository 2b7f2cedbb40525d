"""SQLAlchemy Core definitions of the tables we own: ``raw.*`` landing and ``ops.*`` bookkeeping.

dbt owns everything downstream (staging, snapshots, marts); these are the tables Python
writes. Raw tables are append-only: one row per *version* of a source record (a row is
added only when the payload hash differs from the key's latest row), which is what makes
re-running a window or a backfill idempotent and what lets dbt rebuild history.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from greenlight_dagster.clients.pw_entities import PW_ENTITIES
from greenlight_dagster.clients.sf_entities import SF_ENTITIES

metadata = MetaData()

#: (source, entity) of every raw landing table; the table is ``raw.{source}_{entity}``. From the API registries.
RAW_ENTITIES: tuple[tuple[str, str], ...] = (*(("pw", e.name) for e in PW_ENTITIES),
                                             *(("sf", e.name) for e in SF_ENTITIES))


def raw_table_name(source: str, entity: str) -> str:
    return f"{source}_{entity}"


def _raw_table(source: str, entity: str) -> Table:
    name = raw_table_name(source, entity)
    return Table(
        name,
        metadata,
        Column("_version_id", BigInteger, Identity(always=False), primary_key=True),
        Column("source_id", BigInteger, nullable=False, comment="id of the record in the source system"),
        Column("source_modified_at", DateTime(timezone=True), comment="the source's last-modified time (UTC)"),
        Column("payload", JSONB, nullable=False, comment="the record as the API served it, REST field names"),
        Column("_source_hash", Text, nullable=False, comment="sha256 of the canonical JSON payload"),
        Column("_is_deleted", Boolean, nullable=False, server_default=text("false"),
               comment="true on a tombstone row: the record disappeared from the source"),
        Column("_loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("_run_id", Text, nullable=False, comment="Dagster run that landed this version"),
        Index(f"ix_{name}_latest", "source_id", text("_version_id desc")),
        Index(f"ix_{name}_modified", "source_modified_at"),
        schema="raw",
        comment=f"append-only landing of {source} {entity}: one row per fetched version",
    )


RAW_TABLES: dict[tuple[str, str], Table] = {(s, e): _raw_table(s, e) for s, e in RAW_ENTITIES}

watermarks = Table(
    "watermarks",
    metadata,
    Column("source", Text, nullable=False),
    Column("entity", Text, nullable=False),
    Column("high_water", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now(),
           comment="when high_water last moved"),
    Column("run_id", Text),
    Column("settled_at", DateTime(timezone=True),
           comment="when a read that started an overlap after the move saw everything up to high_water: "
                   "from then on reads start at the mark, not an overlap before it; NULL until then"),
    PrimaryKeyConstraint("source", "entity"),
    schema="ops",
    comment="durable high-water mark of each incremental extraction",
)

dbt_node_marks = Table(
    "dbt_node_marks",
    metadata,
    Column("unique_id", Text, primary_key=True, comment="dbt unique id of a model, snapshot or seed"),
    Column("fingerprint", Text, nullable=False, comment="sha256 of the dbt project files it was built from"),
    Column("markers", JSONB, nullable=False, comment="source table -> its marker when the build started"),
    Column("run_id", Text, nullable=False),
    Column("built_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    schema="ops",
    comment="what each warehouse node was last built from; a sync rebuilds only nodes whose inputs moved",
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", Text, nullable=False, server_default=text("'started'")),
    Column("kind", Text, nullable=False, comment="sync | backfill | replay | ingest"),
    Column("flags", JSONB, comment="the flags in force for this run"),
    Column("stats", JSONB, comment="per-step counters"),
    schema="ops",
)

error_log = Table(
    "error_log",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("run_id", Text),
    Column("source", Text, nullable=False, comment="pw | sf | warehouse | push | dagster"),
    Column("entity", Text),
    Column("source_key", Text),
    Column("reason", Text, nullable=False),
    Column("payload", Text, comment="the offending input as received (may not be valid JSON)"),
    Column("severity", Text, nullable=False, server_default=text("'error'")),
    Index("ix_error_log_occurred", "occurred_at"),
    schema="ops",
)

sync_ledger = Table(
    "sync_ledger",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("idempotency_key", Text, nullable=False),
    Column("target", Text, nullable=False, comment="sf | pw"),
    Column("operation", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("payload_hash", Text, nullable=False),
    Column("state", Text, nullable=False, server_default=text("'planned'"),
           comment="planned -> sending -> done | failed -> dead; attention for manual follow-up"),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("error_class", Text, comment="recoverable | permanent | already_done"),
    Column("target_id", Text, comment="id of the record on the target once known"),
    Column("run_id", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("idempotency_key", name="uq_sync_ledger_idempotency_key"),
    Index("ix_sync_ledger_state", "state"),
    Index("ix_sync_ledger_source", "target", "operation", "source_id"),
    schema="ops",
    comment="outbox: every intended write, before it is sent",
)

dead_letter = Table(
    "dead_letter",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("ledger_id", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("replayed_at", DateTime(timezone=True)),
    schema="ops",
)

duplicate_detection_log = Table(
    "duplicate_detection_log",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("checked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("run_id", Text),
    Column("target", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("candidate_id", Text),
    Column("criterion", Text, nullable=False, comment="ledger | cross_system_id | fuzzy"),
    Column("score", Float),
    Column("decision", Text, nullable=False, comment="duplicate | distinct"),
    Column("reason", Text),
    schema="ops",
)

flags = Table(
    "flags",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Text),
    schema="ops",
    comment="operator overrides of the sync flags; take effect on the next run",
)
