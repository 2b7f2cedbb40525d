"""ServiceFusion's entities as we land them, described once.

The client's reads, the raw landing tables (``raw.sf_<name>``) and the ingestion assets
(``sf/<name>``) derive their entity lists from `SF_ENTITIES`, as PropertyWare's do from
`pw_entities.PW_ENTITIES`: adding an entity is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass

from greenlight_dagster.clients.records import entity_named

#: The expansions a job is read with: our stamp lives in a custom field, progress in the techs and notes.
JOB_EXPAND = "custom_fields,techs_assigned,notes"


@dataclass(frozen=True)
class SfEntity:
    """One ServiceFusion record kind and how it is read."""

    name: str
    path: str
    sort: str
    expand: str | None
    modified_field: str | None
    window: str
    """How a time window is applied: ``server`` (``filters[updated_date]``), ``newest_first`` (read
    ``sort=-updated_at`` and stop below the window's start) or ``none`` (always read whole)."""
    description: str
    partitioned: bool = False
    """Daily-partitioned in Dagster: the high-volume kind whose history a backfill re-reads by window."""


SF_ENTITIES: tuple[SfEntity, ...] = (
    SfEntity("customers", "/customers", "-updated_at,-id", "contacts,locations,custom_fields", "updated_at",
             "newest_first", "ServiceFusion customers with their contacts and locations."),
    SfEntity("jobs", "/jobs", "-updated_at,-id", JOB_EXPAND, "updated_at", "server",
             "ServiceFusion jobs (SF's work orders).", partitioned=True),
    SfEntity("job_statuses", "/job-statuses", "id", None, None, "none",
             "ServiceFusion job statuses (per-account reference data)."),
    SfEntity("techs", "/techs", "id", None, "updated_at", "none", "ServiceFusion technicians."),
)

BY_NAME: dict[str, SfEntity] = {e.name: e for e in SF_ENTITIES}


def sf_entity(name: str) -> SfEntity:
    """The entity called ``name``; a clear error for any other name."""
    return entity_named(BY_NAME, name, "ServiceFusion")
