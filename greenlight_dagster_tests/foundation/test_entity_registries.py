"""One registry per API (clients/pw_entities.py, clients/sf_entities.py) and everything derived from it."""

from __future__ import annotations

import dagster as dg

from greenlight_dagster.clients.pw_entities import PW_ENTITIES
from greenlight_dagster.clients.sf_entities import SF_ENTITIES
from greenlight_dagster.definitions import load_definitions
from greenlight_dagster.sandbox.state import PW_ENTITIES as SANDBOX_PW
from greenlight_dagster.sandbox.state import SF_ENTITIES as SANDBOX_SF
from greenlight_dagster.warehouse.tables import RAW_TABLES

REGISTERED = {("pw", e.name) for e in PW_ENTITIES} | {("sf", e.name) for e in SF_ENTITIES}


def test_raw_tables_and_ingestion_assets_are_the_registered_entities() -> None:
    assert set(RAW_TABLES) == REGISTERED
    graph = load_definitions().resolve_asset_graph()
    raw_assets = {tuple(key.path) for key in graph.get_all_asset_keys()
                  if key.path[0] in ("pw", "sf") and graph.get(key).group_name in ("propertyware", "servicefusion")}
    assert raw_assets == REGISTERED


def test_partitioned_entities_are_the_ones_the_registries_name() -> None:
    partitioned = {("pw", e.name) for e in PW_ENTITIES if e.partitioned} | \
                  {("sf", e.name) for e in SF_ENTITIES if e.partitioned}
    graph = load_definitions().resolve_asset_graph()
    assert {source_entity for source_entity in REGISTERED
            if graph.get(dg.AssetKey(list(source_entity))).partitions_def is not None} == partitioned


def test_the_sandbox_serves_every_registered_entity() -> None:
    assert {e.fixture_key for e in PW_ENTITIES} == set(SANDBOX_PW)
    assert {e.name for e in SF_ENTITIES} <= set(SANDBOX_SF)
