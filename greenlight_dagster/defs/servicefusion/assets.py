"""Raw ServiceFusion assets: ``sf/customers``, ``sf/jobs``, ``sf/job_statuses``, ``sf/techs``."""

from __future__ import annotations

from typing import Any

from greenlight_dagster.defs.ingest import Extraction, RawEntity, SourceSpec, Window, build_source
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource


def fetch(resource: ServiceFusionResource, entity: str, window: Window, log: Any) -> Extraction:
    """Open a read of one entity (``filters[updated_date]`` on jobs, ``sort=-updated_at`` on customers)."""
    client = resource.build_client(log)
    return Extraction(client.iter_records(entity, updated_from=window.start, updated_to=window.end), client.stats)


SPEC = SourceSpec(source="sf", group_name="servicefusion", resource_key="servicefusion",
                  kinds=frozenset({"rest", "postgres"}), pool="servicefusion_api", fetch=fetch)

ENTITIES = (
    RawEntity(
        "customers",
        "ServiceFusion customers with their contacts and locations, one row per version. Incremental: the API has "
        "no updated filter, so pages are read newest-first (sort=-updated_at) down to ops.watermarks minus a "
        "5-minute overlap; `full_refresh` re-reads everything and tombstones vanished customers.",
    ),
    RawEntity(
        "jobs",
        "ServiceFusion jobs (SF's work orders), one row per version. Daily-partitioned by updated time for "
        "backfills: a run over past days re-reads exactly [start, end) with filters[updated_date] and leaves the "
        "high-water mark alone; today's partition (what `greenlight sync` materializes) is the incremental sync "
        "from ops.watermarks minus a 5-minute overlap, up to now; a range reaching today reads from its start. "
        "The first run and `full_refresh` read everything. Re-running any window appends nothing.",
        partitioned=True,
    ),
    RawEntity("job_statuses", "ServiceFusion job statuses (per-account reference data). The API cannot filter "
                              "them by time, so every run reads them all and tombstones removed statuses.",
              incremental=False),
    RawEntity("techs", "ServiceFusion technicians. The API has no updated filter for techs, so every run reads "
                       "them all and tombstones removed techs.", incremental=False),
)

assets, asset_checks = build_source(SPEC, ENTITIES)
