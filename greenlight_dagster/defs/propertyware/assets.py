"""Raw PropertyWare assets: ``pw/portfolios`` … ``pw/work_orders``, all built by `defs.ingest`."""

from __future__ import annotations

from typing import Any

from greenlight_dagster.defs.ingest import Extraction, RawEntity, SourceSpec, Window, build_source
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource


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
                  kinds=frozenset({"soap", "postgres"}), pool="propertyware_api", fetch=fetch)

_INCREMENTAL = "Incremental through PW's last-modified filter from ops.watermarks (5-minute overlap; over SOAP the " \
               "mark is the end of the window read, as the legacy structs carry no modified time; portfolios and " \
               "vendors are always read in full there); `full_refresh` re-reads everything and tombstones records " \
               "that vanished."

ENTITIES = (
    RawEntity("portfolios", f"PropertyWare portfolios (an owner's holdings), one row per version. {_INCREMENTAL}"),
    RawEntity("buildings", f"PropertyWare buildings (properties) with address and unit count. {_INCREMENTAL}"),
    RawEntity("units", f"PropertyWare units, each in a building and portfolio. {_INCREMENTAL}"),
    RawEntity("leases", f"PropertyWare leases: unit, dates, status and tenant ids. {_INCREMENTAL}"),
    RawEntity("tenants", f"PropertyWare contacts of type TENANT. {_INCREMENTAL}"),
    RawEntity("vendors", f"PropertyWare vendors (the trades that do the work). {_INCREMENTAL}"),
    RawEntity(
        "work_orders",
        "PropertyWare work orders, one row per version. Daily-partitioned by last-modified time for backfills: "
        "a run over past days re-reads exactly [start, end) and leaves the high-water mark alone; today's "
        "partition (what `greenlight sync` materializes) is the incremental sync from ops.watermarks minus a "
        "5-minute overlap, up to now; a range reaching today reads from its start up to now. The first run and "
        "`full_refresh` read everything (full_refresh also tombstones vanished work orders). Re-running any "
        "window appends nothing: a version lands only when its payload hash changes.",
        partitioned=True,
    ),
)

assets, asset_checks = build_source(SPEC, ENTITIES)
