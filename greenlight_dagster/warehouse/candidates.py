"""The push candidates, read from the ``push_candidates.*`` dbt models into `core.plan` candidate values.

The models (dbt_warehouse/models/push_candidates) already carry the records as source payloads (PW/SF
field names) in JSONB columns, which is exactly what `core.payloads` reads, so this module
only unpacks rows. The one thing it adds is the SF job category: a PW category is sent only
when the SF account has a category of that name (`resolve_reference`), because SF answers an
unknown category with 422.

Work orders and tenants the warehouse cannot map to a customer yet carry their portfolio id:
the planner maps them through our own create of that portfolio's customer in the ledger
(`core.plan`), and `Candidates.waiting_on_customers` is what the push re-plans once it exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from sqlalchemy import Engine, text

from greenlight_dagster.core.idempotency import entity_source_id
from greenlight_dagster.core.payloads import PayloadError, location_fields, resolve_reference
from greenlight_dagster.core.plan import CustomerCandidate, ProgressCandidate, WorkOrderCandidate

#: The schema of the push-candidate views (dbt_warehouse/models/push_candidates); the views keep their
#: ``sync_*`` names, which are their Dagster asset keys.
CANDIDATES_SCHEMA = "push_candidates"


@dataclass(frozen=True)
class Candidates:
    """Everything one push plan is built from."""

    work_orders: list[WorkOrderCandidate] = field(default_factory=list)
    customers: list[CustomerCandidate] = field(default_factory=list)
    progress: list[ProgressCandidate] = field(default_factory=list)

    def source_ids(self) -> set[str]:
        """Ledger source ids these candidates can produce or wait on (for `LedgerStore.ledger_for_plan`):
        their own, plus the portfolio customer creates that map the unmapped ones."""
        ids = {str(c.work_order.get("id")) for c in self.work_orders}
        ids |= {str(c.work_order.get("id")) for c in self.progress}
        ids |= {f"{c.kind}-{c.record.get('id')}" for c in self.customers}
        waiting = self.waiting_on_customers()
        portfolios = {c.portfolio_id for c in waiting.work_orders} | {c.portfolio_id for c in waiting.customers}
        return ids | {entity_source_id("portfolio", p) for p in portfolios if p is not None}

    def waiting_on_customers(self) -> Candidates:
        """The work orders with no customer and the tenants with no parent customer in the
        warehouse, which our own create of their portfolio's customer can map within the run."""
        return Candidates(
            work_orders=[c for c in self.work_orders if c.customer is None and c.portfolio_id is not None],
            customers=[c for c in self.customers
                       if c.kind == "tenant" and c.parent_customer is None and c.portfolio_id is not None],
        )

    def counts(self) -> dict[str, int]:
        return {"work_orders": len(self.work_orders), "customers": len(self.customers),
                "progress": len(self.progress)}


#: Strings up to this length are kept once per load (statuses, categories, cities, names).
_SHARED_STRING_LENGTH = 40


class _JsonColumns:
    """Parses the JSON columns of one load so that equal things are stored once.

    A fresh `large` first sync held 77,000 candidates and its run process peaked over 1 GiB,
    most of it copies: the same building, unit or SF customer list parsed for each of its
    work orders and tenants, and the same keys and short strings in every record. Each distinct
    value of a ``shared`` column is parsed once and every row gets that one object; object keys
    and short strings go through one memo. Nothing changes a candidate's records (`core.plan`
    and `core.payloads` build new bodies), so sharing them is safe.
    """

    def __init__(self, shared: tuple[str, ...]) -> None:
        self.shared = shared
        self._strings: dict[str, str] = {}
        self._values: dict[str, Any] = {}
        self._decoder = json.JSONDecoder(object_pairs_hook=self._object)

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        strings = self._strings
        return {strings.setdefault(key, key): strings.setdefault(value, value)
                if type(value) is str and len(value) <= _SHARED_STRING_LENGTH else value
                for key, value in pairs}

    def parse(self, column: str, text_value: str | None) -> Any:
        if text_value is None:
            return None
        if column not in self.shared:
            return self._decoder.decode(text_value)
        if text_value not in self._values:
            self._values[text_value] = self._decoder.decode(text_value)
        return self._values[text_value]


def _rows(engine: Engine, model: str, *, own: tuple[str, ...] = (),
          shared: tuple[str, ...] = ()) -> Iterator[Mapping[str, Any]]:
    """The model's rows, streamed; its JSON columns (``own``: a value per row, ``shared``: values
    many rows carry) parsed by one `_JsonColumns`."""
    json_columns = own + shared
    columns = _JsonColumns(shared)
    with engine.connect().execution_options(stream_results=True) as conn:
        names = list(conn.execute(text(f'select * from "{CANDIDATES_SCHEMA}"."{model}" limit 0')).keys())
        select = ", ".join(f'"{name}"::text as "{name}"' if name in json_columns else f'"{name}"' for name in names)
        for row in conn.execute(text(f'select {select} from "{CANDIDATES_SCHEMA}"."{model}"')):
            record = dict(row._mapping)
            for name in json_columns:
                record[name] = columns.parse(name, record[name])
            yield record


def work_order_candidates(engine: Engine, sf_categories: Iterable[str] = ()) -> list[WorkOrderCandidate]:
    """``push_candidates.sync_sf_job_creates``; ``sf_categories`` are the account's job category names."""
    categories = list(sf_categories)
    return [
        WorkOrderCandidate(
            work_order=row["work_order"], customer=row["customer"], unit=row["unit"], building=row["building"],
            routing_ok=bool(row["routing_ok"]), routing_reason=row["routing_reason"],
            sf_category=resolve_reference(row["pw_category"], categories), sf_jobs=tuple(row["sf_jobs"] or ()),
            portfolio_id=row["portfolio_id"], stamp_problem=row["stamp_problem"],
        )
        for row in _rows(engine, "sync_sf_job_creates", own=("work_order",),
                         shared=("customer", "unit", "building", "sf_jobs"))
    ]


def _tenant_locations(unit: Mapping[str, Any] | None, building: Mapping[str, Any] | None) -> tuple[dict[str, str], ...]:
    """The tenant's SF location (its unit, else its building); none when PW has no street for it."""
    if unit is None and building is None:
        return ()
    try:
        return (location_fields(unit, building),)
    except PayloadError:
        return ()


def customer_candidates(engine: Engine) -> list[CustomerCandidate]:
    """``push_candidates.sync_sf_customer_creates``: portfolios as parents, lease tenants as their children."""
    candidates = []
    for row in _rows(engine, "sync_sf_customer_creates", own=("record",), shared=("unit", "building", "sf_customers")):
        kind = cast(Literal["portfolio", "tenant"], row["kind"])
        is_tenant = kind == "tenant"
        candidates.append(CustomerCandidate(
            kind=kind, record=row["record"], sf_customers=tuple(row["sf_customers"] or ()),
            parent_customer=row["parent_customer_id"],
            contacts=(row["record"],) if is_tenant else (),
            locations=_tenant_locations(row["unit"], row["building"]) if is_tenant else (),
            portfolio_id=row["portfolio_id"],
        ))
    return candidates


def progress_candidates(engine: Engine) -> list[ProgressCandidate]:
    """``push_candidates.sync_pw_progress_updates``: SF jobs whose status or notes may need to reach PW."""
    return [ProgressCandidate(sf_job=row["sf_job"], work_order=row["work_order"],
                              status_category=row["status_category"], link_problem=row["link_problem"],
                              sf_version=row["sf_version"])
            for row in _rows(engine, "sync_pw_progress_updates", own=("sf_job", "work_order"))]


def load_candidates(engine: Engine, sf_categories: Iterable[str] = ()) -> Candidates:
    return Candidates(work_order_candidates(engine, sf_categories), customer_candidates(engine),
                      progress_candidates(engine))


def planned_work_order(engine: Engine, work_order_id: int) -> dict[str, Any] | None:
    """The work order as the warehouse has it (PW field names), for strict verification: the
    record the plan was built from, compared with a fresh read from PW."""
    with engine.connect() as conn:
        row = conn.execute(text(f'select work_order from "{CANDIDATES_SCHEMA}"."sync_sf_job_creates" '
                                "where work_order_id = :id"), {"id": work_order_id}).first()
    return dict(row[0]) if row is not None else None


def planned_work_orders(engine: Engine) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Every work order a job create was planned from, by id: what strict verification compares
    with PW's bulk read of changed work orders, read once per step instead of once per create."""
    with engine.connect() as conn:
        yield from ((int(row.work_order_id), row.work_order) for row in conn.execute(text(
            f'select work_order_id, work_order from "{CANDIDATES_SCHEMA}"."sync_sf_job_creates"')))


def ingested_work_order(engine: Engine, work_order_id: int) -> dict[str, Any] | None:
    """The latest version of the work order ingest landed (``raw.pw_work_orders``, ordered as
    dbt's ``latest_versions``); None when there is none or it is a tombstone. Strict verification
    uses it for a work order PW has not changed since ingest (`outbox.bulk_verify`)."""
    with engine.connect() as conn:
        row = conn.execute(text('select payload, _is_deleted from "raw"."pw_work_orders" where source_id = :id '
                                "order by source_modified_at desc nulls last, _version_id desc limit 1"),
                           {"id": work_order_id}).first()
    return dict(row[0]) if row is not None and not row[1] else None
