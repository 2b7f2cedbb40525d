"""How the raw ServiceFusion assets ``sf/customers``, ``sf/jobs``, ``sf/job_statuses``, ``sf/techs`` read,
and their checks.

The assets themselves are steps shared with PropertyWare (``defs/ingestion``), built by `lib.ingest`.
"""

from __future__ import annotations

from typing import Any

from greenlight_dagster.clients.sf_entities import SF_ENTITIES
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.lib.ingest import (
    PARTITIONED_READS,
    Extraction,
    RawEntity,
    Source,
    SourceSpec,
    Window,
    build_rejected_records_checks,
)


def fetch(resource: ServiceFusionResource, entity: str, window: Window, log: Any) -> Extraction:
    """Open a read of one entity (``filters[updated_date]`` on jobs, ``sort=-updated_at`` on customers)."""
    client = resource.build_client(log)
    return Extraction(client.iter_records(entity, modified_from=window.start, modified_to=window.end), client.stats)


SPEC = SourceSpec(source="sf", group_name="servicefusion", resource_key="servicefusion",
                  kinds=frozenset({"rest", "postgres"}), fetch=fetch)

#: How each way of windowing an SF read (`SfEntity.window`) reads, in the asset's description.
_READS = {
    "newest_first": "Incremental: the API has no updated filter, so pages are read newest-first (sort=-updated_at) "
                    "down to ops.watermarks minus a 5-minute overlap; `full_refresh` re-reads everything and "
                    "tombstones vanished records.",
    "server": "Incremental through filters[updated_date] from ops.watermarks minus a 5-minute overlap.",
    "none": "The API cannot filter them by time, so every run reads them all and tombstones removed ones.",
}

ENTITIES = tuple(
    RawEntity(e.name, f"{e.description} {PARTITIONED_READS if e.partitioned else _READS[e.window]}",
              incremental=e.window != "none", partitioned=e.partitioned)
    for e in SF_ENTITIES
)

#: Built into steps with the other source's entities (``defs/ingestion``): one lane per source.
SOURCE = Source(SPEC, ENTITIES)

asset_checks = build_rejected_records_checks(SOURCE)
