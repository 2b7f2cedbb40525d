"""The ingestion harness: the real raw assets, run through Dagster, against the sandbox and the session warehouse.

Why a harness rather than calling the loader: the behaviour under test (window planning,
watermarks, tombstones, the ``rejected_records`` check, partition ranges) lives in the asset
bodies and in how Dagster hands them partitions, so every test materializes the assets the
Definitions ship, with the resources the Definitions ship. Those resources read the
``GREENLIGHT_PW_*``/``GREENLIGHT_SF_*`` environment, so the fixture points it at the sandbox.

Import the ``ingest`` fixture into a test module (``from ...fixtures_sandbox import ingest_fixture``): the
ingestion ``conftest.py`` belongs to another file owner. ``fresh_sandbox`` comes from the root
conftest's ``sandbox_fixtures`` plugin, ``clean_raw`` from the ingestion conftest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import dagster as dg
import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.defs.ingestion.assets import ingest, ingest_daily
from greenlight_dagster.defs.propertyware import assets as pw
from greenlight_dagster.defs.propertyware import resources as pw_resources
from greenlight_dagster.defs.servicefusion import assets as sf
from greenlight_dagster.defs.servicefusion import resources as sf_resources
from greenlight_dagster.lib.ingest import latest_partition_key
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster.sandbox.state import parse_ts

__all__ = ["ENTITY_KEYS", "Ingest", "RawRow", "ingest_fixture", "metadata", "modified", "sandbox_records"]

ASSETS: Sequence[dg.AssetsDefinition] = (ingest, ingest_daily)
CHECKS: Sequence[dg.AssetChecksDefinition] = (*pw.asset_checks, *sf.asset_checks)
RESOURCES: Mapping[str, Any] = {"warehouse": WarehouseResource(), **pw_resources.resources,
                                **sf_resources.resources}

#: (source, entity) of every raw asset -> (sandbox system, fixture table), to compare what landed with the world.
ENTITY_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("pw", "portfolios"): ("propertyware", "portfolios"),
    ("pw", "buildings"): ("propertyware", "buildings"),
    ("pw", "units"): ("propertyware", "units"),
    ("pw", "leases"): ("propertyware", "leases"),
    ("pw", "tenants"): ("propertyware", "contacts"),
    ("pw", "vendors"): ("propertyware", "vendors"),
    ("pw", "work_orders"): ("propertyware", "workOrders"),
    ("sf", "customers"): ("servicefusion", "customers"),
    ("sf", "jobs"): ("servicefusion", "jobs"),
    ("sf", "job_statuses"): ("servicefusion", "job_statuses"),
    ("sf", "techs"): ("servicefusion", "techs"),
}


@dataclass(frozen=True)
class RawRow:
    """One landed version, as the tests compare it (``_loaded_at`` left out: it is wall-clock time)."""

    version_id: int
    source_id: int
    source_modified_at: datetime | None
    payload: dict[str, Any]
    source_hash: str
    is_deleted: bool
    run_id: str


def sandbox_records(sandbox: Sandbox, source: str, entity: str) -> dict[Any, dict[str, Any]]:
    """The records of the world that ``{source}/{entity}`` should land, by id (tenants are TENANT contacts)."""
    system, table = ENTITY_KEYS[(source, entity)]
    records = sandbox.state.snapshot()[system][table]
    if (source, entity) == ("pw", "tenants"):
        records = [r for r in records if r.get("type") == "TENANT"]
    return {r["id"]: r for r in records}


def op_name(source: str, entity: str) -> str:
    """Dagster's op name of the step that holds ``{source}/{entity}`` (run config is keyed by it)."""
    return next(a.node_def.name for a in ASSETS if dg.AssetKey([source, entity]) in a.keys)


def step_config(entities: Iterable[tuple[str, str]], **config: Any) -> dict[str, Any]:
    """Run config (``IngestConfig`` fields) for each step holding one of ``entities`` (one config per step)."""
    return {"ops": {op_name(s, e): {"config": config} for s, e in entities}}


def full_refresh_config(entities: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Run config that re-reads everything for each step holding one of ``entities``."""
    return step_config(entities, full_refresh=True)


@dataclass
class Ingest:
    """Runs raw assets and reads what they landed; one Dagster instance per test, so checks see its runs."""

    sandbox: Sandbox
    engine: Engine
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)

    def run(self, entities: Iterable[tuple[str, str]] | None = None, *, partition_key: str | None = None,
            partition_range: tuple[str, str] | None = None, full_refresh: bool = False,
            overlap_minutes: float | None = None, checks: bool = False,
            resources: Mapping[str, Any] | None = None) -> dg.ExecuteInProcessResult:
        """Materialize ``entities`` (default: all eleven) the way the sync does: today's partition, unless told.

        Only runs that hold a partitioned asset take a partition: Dagster refuses one otherwise.

        ``partition_range`` (first, last day) is what the UI's backfill dialog and
        ``greenlight backfill`` launch: one run over the range, through the range tags.
        ``resources`` replace the shipped ones by key; ``overlap_minutes`` the incremental overlap.
        """
        wanted = list(entities) if entities is not None else list(ENTITY_KEYS)
        selection = [dg.AssetKey([s, e]) for s, e in wanted]
        tags = ({"dagster/asset_partition_range_start": partition_range[0],
                 "dagster/asset_partition_range_end": partition_range[1]} if partition_range else None)
        partitioned = any(a.partitions_def is not None for a in ASSETS if a.keys & set(selection))
        if partitioned and partition_range is None and partition_key is None:
            partition_key = latest_partition_key()
        config = full_refresh_config(wanted) if full_refresh else None
        if overlap_minutes is not None:
            config = step_config(wanted, overlap_minutes=overlap_minutes)
        return dg.materialize(
            [*ASSETS, *(CHECKS if checks else ())], selection=selection, resources={**RESOURCES, **(resources or {})},
            instance=self.instance, partition_key=partition_key, tags=tags, run_config=config,
        )

    def rows(self, source: str, entity: str) -> list[RawRow]:
        """Every landed version of ``{source}/{entity}``, oldest first."""
        with self.engine.connect() as conn:
            result = conn.execute(text(
                f"select _version_id, source_id, source_modified_at, payload, _source_hash, _is_deleted, _run_id"
                f" from raw.{source}_{entity} order by _version_id"))
            return [RawRow(*row) for row in result]

    def table_counts(self) -> dict[tuple[str, str], int]:
        return {key: len(self.rows(*key)) for key in ENTITY_KEYS}

    def requests(self, server: str, operation: str | None = None) -> list[dict[str, Any]]:
        """The sandbox request log of one server (and operation), paths URL-decoded."""
        return [{**r, "path": unquote(r["path"])} for r in self.sandbox.state.request_log()
                if r["server"] == server and (operation is None or r["operation"] == operation)]

    def watermark(self, source: str, entity: str) -> datetime | None:
        with self.engine.connect() as conn:
            value: datetime | None = conn.execute(text(
                "select high_water from ops.watermarks where source = :s and entity = :e"),
                {"s": source, "e": entity}).scalar()
            return value


def metadata(result: dg.ExecuteInProcessResult, source: str, entity: str) -> dict[str, Any]:
    """The materialization metadata of one asset in ``result``, as plain values.

    A single-run backfill reports one materialization per partition of its range, all from
    the one read: they must carry the same metadata.
    """
    key = dg.AssetKey([source, entity])
    events = [e for e in result.asset_materializations_for_node(op_name(source, entity)) if e.asset_key == key]
    found = [{name: value.value for name, value in event.metadata.items()} for event in events]
    assert found and all(m == found[0] for m in found), found
    return found[0]


def modified(record: Mapping[str, Any], field_name: str) -> datetime:
    """A sandbox record's last-modified time (``lastModifiedDateTime`` or ``updated_at``)."""
    return parse_ts(record[field_name])


@pytest.fixture(name="ingest")
def ingest_fixture(fresh_sandbox: Sandbox, clean_raw: Engine, monkeypatch: pytest.MonkeyPatch) -> Ingest:
    """A reset small sandbox, empty raw tables and watermarks, and the connection environment pointing at both."""
    for name, value in fresh_sandbox.env().items():
        monkeypatch.setenv(name, value)
    return Ingest(fresh_sandbox, clean_raw)
