"""PropertyWare and ServiceFusion are read side by side (decision 0021), and nothing is lost for it.

Every request is slowed (100 ms on each server), so reading one source after the other would
show in the sandbox's request log as one block of PW requests and one of SF requests per step;
side by side, the two interleave. What lands - every record, every high-water mark - is what a
read of one entity at a time lands, and a second run adds no version.
"""

from __future__ import annotations

import itertools

import pytest

from greenlight_dagster_tests.ingestion.fixtures_sandbox import (  # noqa: F401 - fixtures are used by name
    ENTITY_KEYS,
    Ingest,
    ingest_fixture,
    metadata,
    sandbox_records,
)

pytestmark = pytest.mark.integration

LATENCY_MS = 100
#: Job statuses carry no modification time, so their reads earn no high-water mark.
UNMARKED = {("sf", "job_statuses")}


def test_both_sources_are_read_at_once_and_every_record_and_mark_lands(ingest: Ingest) -> None:
    for server in ("pw", "sf"):
        ingest.sandbox.state.faults.add({"server": server, "kind": "latency", "ms": LATENCY_MS})
    first = ingest.run()
    assert first.success

    servers = [r["server"] for r in ingest.sandbox.state.request_log()]
    blocks = [server for server, _ in itertools.groupby(servers)]
    assert len(blocks) > 4, f"PW and SF were read one after the other: {blocks}"
    for source, entity in ENTITY_KEYS:
        landed = sorted(row.source_id for row in ingest.rows(source, entity))
        assert landed == sorted(sandbox_records(ingest.sandbox, source, entity)), (source, entity)
        marked = ingest.watermark(source, entity) is not None
        assert marked == ((source, entity) not in UNMARKED), f"{source}/{entity}: high-water mark {marked}"

    again = ingest.run()
    assert again.success
    assert {key: metadata(again, *key)["new_versions"] for key in ENTITY_KEYS} == dict.fromkeys(ENTITY_KEYS, 0)
