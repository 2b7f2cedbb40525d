"""The two ingestion steps: PropertyWare and ServiceFusion read side by side (decision 0021).

Each step holds the raw assets of both sources that share a partitioning and reads them in
one lane per source, so a sync waits for the slower API, not for both in turn. The entities and
how each source reads them are declared in ``defs/propertyware`` and ``defs/servicefusion``.
"""

from __future__ import annotations

from greenlight_dagster.defs.propertyware.assets import SOURCE as PW
from greenlight_dagster.defs.servicefusion.assets import SOURCE as SF
from greenlight_dagster.lib.ingest import build_ingest_asset

ingest = build_ingest_asset(
    "ingest", [PW, SF], partitioned=False,
    description="Reads PropertyWare's and ServiceFusion's reference entities (portfolios, buildings, units, "
                "leases, tenants, vendors; customers, job statuses, techs), one lane per API.")

ingest_daily = build_ingest_asset(
    "ingest_daily", [PW, SF], partitioned=True,
    description="Reads PropertyWare work orders and ServiceFusion jobs for the run's daily partitions, one lane "
                "per API.")
