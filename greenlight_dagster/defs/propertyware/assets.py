"""How the raw PropertyWare assets ``pw/portfolios`` … ``pw/work_orders`` read, and their checks.

The assets themselves are steps shared with ServiceFusion (``defs/ingestion``), built by `lib.ingest`.
"""

from __future__ import annotations

from typing import Any

from greenlight_dagster.clients.pw_entities import PW_ENTITIES
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource
from greenlight_dagster.lib.ingest import (
    PARTITIONED_READS,
    Extraction,
    RawEntity,
    Source,
    SourceSpec,
    Window,
    build_rejected_records_checks,
)


def fetch(resource: PropertyWareResource, entity: str, window: Window, log: Any) -> Extraction:
    """Open a read of one entity through the configured read API (decision 0011), filtered server-side
    by last-modified time (SOAP ``lastModifiedOnOrAfter/OnOrBefore``, REST ``lastModifiedDateTimeStart/End``).

    Records without a modification time (the legacy SOAP structs) earn the mark of the window
    the read covered (`PropertyWareClient.read_until`).
    """
    client = resource.build_client(log)
    if client.records_carry_modified_time:
        records = client.iter_records(entity, modified_from=window.start, modified_to=window.end)
        window_mark = None
    else:  # the window is half-open and nothing can be filtered after the read: the service leaves the end out
        records = client.iter_records(entity, modified_from=window.start, modified_before=window.end)
        window_mark = lambda: client.read_until  # noqa: E731 - read once the records are loaded
    return Extraction(records, client.stats, full_read=client.reads_everything(entity), window_mark=window_mark)


SPEC = SourceSpec(source="pw", group_name="propertyware", resource_key="propertyware",
                  kinds=frozenset({"soap", "postgres"}), fetch=fetch)

_INCREMENTAL = "Incremental through PW's last-modified filter from ops.watermarks (5-minute overlap; over SOAP the " \
               "mark is the end of the window read, as the legacy structs carry no modified time; portfolios and " \
               "vendors are always read in full there); `full_refresh` re-reads everything and tombstones records " \
               "that vanished."

ENTITIES = tuple(
    RawEntity(e.name, f"{e.description} One row per version. {PARTITIONED_READS if e.partitioned else _INCREMENTAL}",
              partitioned=e.partitioned)
    for e in PW_ENTITIES
)

#: Built into steps with the other source's entities (``defs/ingestion``): one lane per source.
SOURCE = Source(SPEC, ENTITIES)

asset_checks = build_rejected_records_checks(SOURCE)
