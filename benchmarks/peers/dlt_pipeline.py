"""The peer: the same PW + SF ingestion with SCD2 history, written the way dlt's documentation says.

    python benchmarks/peers/dlt_pipeline.py --pipelines-dir DIR [--dataset peer_dlt]

Reads the same environment as the sync (``GREENLIGHT_PW_*``, ``GREENLIGHT_SF_*``,
``GREENLIGHT_WAREHOUSE_URL``) and loads into the same PostgreSQL server, dataset ``peer_dlt``.
Prints one JSON line: seconds, rows per table of the load, and dlt's own step timings.

Written honestly, by dlt's docs (general-usage/merge-loading, http/rest-client, reference/performance):

* **PW**: its REST v1 API through dlt's `RESTClient` (the ``x-propertyware-*`` key headers, an
  `OffsetPaginator` at PW's maximum ``limit`` of 500, ``orderby=id``), one `dlt.resource` per
  entity; incremental on ``lastModifiedDateTime`` via `dlt.sources.incremental`, passed to PW as
  ``lastModifiedDateTimeStart`` so only changes travel. (The legacy SOAP service is rpc/encoded
  with multiRef answers, which zeep cannot read, so a dlt user would take the REST API; the
  benchmark gives our sync the same API.)
* **SF**: dlt's `RESTClient` with `OAuth2ClientCredentials` and a `PageNumberPaginator`
  reading ``_meta.pageCount`` (per-page 50, ``data_selector="items"``); jobs incremental with
  ``filters[updated_date][gte]``, customers newest first (``sort=-updated_at``, ``row_order="desc"``
  so dlt stops at the last value); job statuses and techs read whole.
* **History**: ``write_disposition={"disposition": "merge", "strategy": "scd2"}`` for the
  entities we snapshot (work orders, units, leases, tenants) and SF jobs/customers; with
  incremental extraction the natural key is also the ``merge_key``, which the docs give as the
  way to retire only the records present in the load (otherwise every absent row would be
  retired). Reference data merges on its primary key.
* **Performance advice followed**: resources yield whole pages, not rows; resources are
  ``parallelized`` so PW and SF are extracted side by side; the rest stays at dlt's defaults
  (normalize in one process on a 2-core machine; load workers default).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials
from dlt.sources.helpers.rest_client.paginators import OffsetPaginator, PageNumberPaginator
from sqlalchemy.engine import make_url

PW_LIMIT = 500  # REST v1's largest page, as our REST client asks
SF_PER_PAGE = 50
SCD2: Any = {"disposition": "merge", "strategy": "scd2"}  # a dlt TScd2StrategyDict
MERGE: Any = {"disposition": "merge", "strategy": "delete-insert"}

#: PW entity -> (REST list path, fixed query parameters, keeps SCD2 history)
PW_ENTITIES: dict[str, tuple[str, dict[str, Any], bool]] = {
    "portfolios": ("/portfolios", {}, False),
    "buildings": ("/buildings", {}, False),
    "units": ("/units", {}, True),
    "leases": ("/leases", {}, True),
    "tenants": ("/contacts", {"type": "TENANT"}, True),
    "vendors": ("/vendors", {}, False),
    "work_orders": ("/workorders", {}, True),
}
JOB_EXPAND = "custom_fields,techs_assigned,notes"  # what our SF client expands


def pw_client() -> RESTClient:
    """dlt's REST client on PW REST v1: the key in the three headers, offset paging over bare arrays."""
    headers = {"x-propertyware-client-id": os.environ["GREENLIGHT_PW_CLIENT_ID"],
               "x-propertyware-client-secret": os.environ["GREENLIGHT_PW_CLIENT_SECRET"],
               "x-propertyware-system-id": os.environ["GREENLIGHT_PW_SYSTEM_ID"]}
    return RESTClient(base_url=os.environ["GREENLIGHT_PW_REST_URL"], headers=headers,
                      paginator=OffsetPaginator(limit=PW_LIMIT, total_path=None))


def pw_resource(client: RESTClient, entity: str) -> Any:
    """One PW entity: pages of records modified since the last run, history per its disposition."""
    path, fixed, history = PW_ENTITIES[entity]
    keys: dict[str, Any] = {"primary_key": "id", **({"merge_key": "id"} if history else {})}

    @dlt.resource(name=f"pw_{entity}", write_disposition=SCD2 if history else MERGE, parallelized=True, **keys)
    def read(modified: dlt.sources.incremental[str] = dlt.sources.incremental(  # noqa: B008 - dlt's idiom
            "lastModifiedDateTime", initial_value=None)) -> Iterator[Any]:
        params: dict[str, Any] = {**fixed, "orderby": "id"}
        if modified.last_value is not None:
            params["lastModifiedDateTimeStart"] = modified.last_value
        yield from client.paginate(path, params=params)

    return read


def sf_client() -> RESTClient:
    """dlt's REST client: OAuth2 client credentials, page-number paging on ``_meta``."""
    auth = OAuth2ClientCredentials(access_token_url=os.environ["GREENLIGHT_SF_TOKEN_URL"],
                                   client_id=os.environ["GREENLIGHT_SF_CLIENT_ID"],
                                   client_secret=os.environ["GREENLIGHT_SF_CLIENT_SECRET"])
    return RESTClient(base_url=os.environ["GREENLIGHT_SF_BASE_URL"], auth=auth, data_selector="items",
                      paginator=PageNumberPaginator(base_page=1, page_param="page", total_path="_meta.pageCount"))


def sf_resources(client: RESTClient) -> list[Any]:
    """SF jobs and customers (incremental, SCD2) and the two reference lists (read whole)."""
    per_page = {"per-page": SF_PER_PAGE}

    @dlt.resource(name="sf_jobs", primary_key="id", merge_key="id", write_disposition=SCD2, parallelized=True)
    def jobs(updated: dlt.sources.incremental[str] = dlt.sources.incremental(  # noqa: B008 - dlt's idiom
            "updated_at", initial_value=None)) -> Iterator[Any]:
        params = {**per_page, "sort": "-updated_at,-id", "expand": JOB_EXPAND}
        if updated.last_value is not None:
            params["filters[updated_date][gte]"] = updated.last_value
        yield from client.paginate("/jobs", params=params)

    @dlt.resource(name="sf_customers", primary_key="id", merge_key="id", write_disposition=SCD2, parallelized=True)
    def customers(updated: dlt.sources.incremental[str] = dlt.sources.incremental(  # noqa: B008 - dlt's idiom
            "updated_at", initial_value=None, row_order="desc")) -> Iterator[Any]:
        yield from client.paginate("/customers", params={**per_page, "sort": "-updated_at,-id",
                                                         "expand": "contacts,locations,custom_fields"})

    @dlt.resource(name="sf_job_statuses", primary_key="id", write_disposition=MERGE, parallelized=True)
    def job_statuses() -> Iterator[Any]:
        yield from client.paginate("/job-statuses", params={**per_page, "sort": "id"})

    @dlt.resource(name="sf_techs", primary_key="id", write_disposition=MERGE, parallelized=True)
    def techs() -> Iterator[Any]:
        yield from client.paginate("/techs", params={**per_page, "sort": "id"})

    return [jobs, customers, job_statuses, techs]


@dlt.source(name="greenlight_peer")
def greenlight_source() -> list[Any]:
    pw = pw_client()
    return [*(pw_resource(pw, entity) for entity in PW_ENTITIES), *sf_resources(sf_client())]


def destination_credentials() -> dict[str, Any]:
    """The warehouse URL as dlt's Postgres credentials.

    dlt renders credentials as a URL, where a unix-socket directory cannot be the host; libpq
    reads it from the ``host`` query parameter instead, which overrides the URL's host.
    """
    url = make_url(os.environ["GREENLIGHT_WAREHOUSE_URL"])
    socket_dir = url.query.get("host")
    return {"database": url.database, "username": url.username or "postgres", "password": url.password or "",
            "host": url.host or "localhost", "port": url.port or 5432,
            **({"query": {"host": str(socket_dir)}} if socket_dir else {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines-dir", required=True, help="where dlt keeps its state between runs")
    parser.add_argument("--dataset", default="peer_dlt")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    pipeline = dlt.pipeline(pipeline_name="greenlight_peer", pipelines_dir=args.pipelines_dir,
                            destination=dlt.destinations.postgres(credentials=destination_credentials()),
                            dataset_name=args.dataset)
    info = pipeline.run(greenlight_source())
    seconds = time.perf_counter() - began
    trace = pipeline.last_trace
    assert trace is not None  # a run that returned has a trace
    rows = trace.last_normalize_info.row_counts if trace.last_normalize_info else {}
    steps = {step.step: (step.finished_at - step.started_at).total_seconds()
             for step in trace.steps if step.finished_at}
    print(json.dumps({"seconds": seconds, "rows": dict(rows), "steps": steps,
                      "failed_jobs": info.has_failed_jobs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
