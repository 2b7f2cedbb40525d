"""Lists and views of the ServiceFusion sandbox: filters, sort, pagination, ``fields``, ``expand``.

Everything here follows docs/apis/servicefusion.md §4 and §6 to the letter, including the parts that
trip clients up: ``per-page`` defaults to 10 and is clamped to 1..50, a page past the end
returns the *last page again* (a client that loops until an empty page never stops),
``filters[po_number]`` is a *partial* match, nested collections appear only when expanded,
and an unknown sort field is a 400.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from greenlight_dagster.sandbox.sf_errors import ApiError
from greenlight_dagster.sandbox.state import SandboxState

SF = "servicefusion"
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 50

_FILTER_KEY = re.compile(r"^filters\[([^\]]+)\](?:\[(gte|lte)\])?$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Query = Mapping[str, str]


@dataclass(frozen=True)
class Filter:
    """How ``filters[name]`` matches: ``partial``/``full`` text, ``list`` (comma list, full match)
    or ``range`` (``[gte]``/``[lte]``, RFC 3339 or Y-m-d) over the values at ``paths``
    (dotted paths reach into nested lists: ``contacts.phones.phone``)."""

    kind: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Resource:
    """One list resource: URL segment, sandbox entity and what the API lets clients do with it."""

    name: str
    entity: str
    sortable: frozenset[str]
    filters: Mapping[str, Filter] = field(default_factory=dict)
    expandable: tuple[str, ...] = ()


def _text(*paths: str, kind: str = "partial") -> Filter:
    return Filter(kind, paths)


_ADDRESS = ("street_1", "street_2", "city", "state_prov", "postal_code")

CUSTOMERS = Resource(
    "customers", "customers",
    frozenset({"id", "customer_name", "fully_qualified_name", "parent_customer", "account_number", "account_balance",
               "payment_terms", "payment_type", "is_vip", "is_taxable", "referral_source", "industry",
               "created_at", "updated_at", "last_serviced_date"}),
    {
        "name": _text("customer_name"),
        "contact_first_name": _text("contacts.fname"),
        "contact_last_name": _text("contacts.lname"),
        "address": _text(*(f"locations.{p}" for p in _ADDRESS)),
        "phone": _text("contacts.phones.phone"),
        "city": _text("locations.city", kind="full"),
        "postal_code": _text("locations.postal_code", kind="full"),
        "email": _text("contacts.emails.email", kind="full"),
        "tags": _text("tags", kind="list"),
        "last_serviced_date": _text("last_serviced_date", kind="range"),
        "agreement_date_effective": _text("agreement_date_effective", kind="range"),
        "agreement_date_expires": _text("agreement_date_expires", kind="range"),
    },
    ("contacts", "locations", "custom_fields"),
)
JOBS = Resource(
    "jobs", "jobs",
    frozenset({"id", "number", "po_number", "check_number", "description", "tech_notes", "completion_notes",
               "duration", "time_frame_promised_start", "time_frame_promised_end", "start_date", "end_date",
               "created_at", "updated_at", "closed_at", "customer_id", "customer_name", "status", "sub_status",
               "category", "source", "payment_type", "customer_payment_terms", "contract", "called_in_by"}),
    {
        "status": _text("status", kind="list"),
        "number": _text("number"),
        "po_number": _text("po_number"),
        "invoice_number": _text("invoice_number"),
        "customer_name": _text("customer_name"),
        "parent_customer_name": _text("parent_customer"),
        "contact_first_name": _text("contact_first_name"),
        "contact_last_name": _text("contact_last_name"),
        "address": _text(*_ADDRESS),
        "city": _text("city", kind="full"),
        "zip_code": _text("postal_code", kind="full"),
        "category": _text("category", kind="list"),
        "source": _text("source", kind="list"),
        "start_date": _text("start_date", kind="range"),
        "end_date": _text("end_date", kind="range"),
        "updated_date": _text("updated_at", kind="range"),
        "closed_date": _text("closed_at", kind="range"),
    },
    ("custom_fields", "techs_assigned", "notes"),
)
JOB_STATUSES = Resource("job-statuses", "job_statuses", frozenset({"id", "code", "name", "is_custom", "category"}))
JOB_CATEGORIES = Resource("job-categories", "job_categories", frozenset({"id", "name"}))
TECHS = Resource(
    "techs", "techs",
    frozenset({"id", "first_name", "last_name", "email", "department", "title", "is_field_worker", "created_at",
               "updated_at"}),
    {"first_name": _text("first_name"), "last_name": _text("last_name"), "email": _text("email", kind="full"),
     "nickname_on_workorder": _text("nickname_on_workorder"), "nickname_on_dispatch": _text("nickname_on_dispatch")},
)
RESOURCES = {r.name: r for r in (CUSTOMERS, JOBS, JOB_STATUSES, JOB_CATEGORIES, TECHS)}


# ---- filters ----
def _values_at(record: Any, path: str) -> list[Any]:
    """Every value at a dotted path, flattening lists on the way (None and missing dropped)."""
    head, _, rest = path.partition(".")
    items = record if isinstance(record, list) else [record]
    found: list[Any] = []
    for item in items:
        value = item.get(head) if isinstance(item, Mapping) else None
        if value is None:
            continue
        if rest:
            found.extend(_values_at(value, rest))
        else:
            found.extend(value if isinstance(value, list) else [value])
    return found


def _parse_instant(value: str) -> datetime | date:
    """A filter bound or record value: Y-m-d as a `date`, RFC 3339 as an aware UTC `datetime`.

    A ``+`` offset that arrived unencoded in a query string reads back as a space; it is put back.
    """
    text = value.strip().replace(" ", "+")
    if _DATE_ONLY.match(text):
        return date.fromisoformat(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _day(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _compare(value: datetime | date, bound: datetime | date) -> int:
    """-1/0/1 of a record value against a bound; a date on either side compares calendar days."""
    if isinstance(bound, datetime) and isinstance(value, datetime):
        return (value > bound) - (value < bound)
    left, right = _day(value), _day(bound)
    return (left > right) - (left < right)


def _in_range(values: list[Any], bounds: Mapping[str, datetime | date]) -> bool:
    for raw in values:
        try:
            value = _parse_instant(str(raw))
        except ValueError:
            continue
        if all((_compare(value, bound) >= 0) if op == "gte" else (_compare(value, bound) <= 0)
               for op, bound in bounds.items()):
            return True
    return False


def _text_match(kind: str, values: list[Any], needle: str) -> bool:
    wanted = needle.strip().lower()
    texts = [str(v).strip().lower() for v in values]
    if kind == "partial":
        return any(wanted in t for t in texts)
    if kind == "list":
        options = {part.strip().lower() for part in needle.split(",") if part.strip()}
        return any(t in options for t in texts)
    return wanted in texts


@dataclass(frozen=True)
class _Condition:
    spec: Filter
    needle: str | None
    bounds: Mapping[str, datetime | date]

    def matches(self, record: Mapping[str, Any]) -> bool:
        values = [v for path in self.spec.paths for v in _values_at(record, path)]
        if self.spec.kind == "range":
            return _in_range(values, self.bounds)
        return _text_match(self.spec.kind, values, self.needle or "")


def parse_filters(resource: Resource, query: Query) -> list[_Condition]:
    """The ``filters[...]`` of a query; unknown filter names are ignored (contract §7.6)."""
    grouped: dict[str, dict[str, str]] = {}
    for key, value in query.items():
        match = _FILTER_KEY.match(key)
        if match and match.group(1) in resource.filters:
            grouped.setdefault(match.group(1), {})[match.group(2) or "eq"] = value
    conditions = []
    for name, ops in grouped.items():
        spec = resource.filters[name]
        if spec.kind != "range":
            if "eq" in ops:
                conditions.append(_Condition(spec, ops["eq"], {}))
            continue
        if "eq" in ops:  # a plain value on a range filter: that day / instant exactly
            ops = {"gte": ops["eq"], "lte": ops["eq"]}
        conditions.append(_Condition(spec, None, {op: _bound(name, op, raw) for op, raw in ops.items()}))
    return conditions


def _bound(name: str, op: str, raw: str) -> datetime | date:
    try:
        return _parse_instant(raw)
    except ValueError:
        raise ApiError(400, f"filters[{name}][{op}] must be a date (Y-m-d) or an RFC 3339 timestamp, "
                            f"got {raw!r}.") from None


# ---- sort ----
def parse_sort(resource: Resource, raw: str | None) -> list[tuple[str, bool]]:
    """``sort=-a,b`` as [(field, descending)]; an empty list when no sort was asked for."""
    keys = []
    for part in (raw or "").split(","):
        name = part.strip()
        if not name:
            continue
        descending = name.startswith("-")
        name = name.lstrip("-")
        if name not in resource.sortable:
            raise ApiError(400, f"Unknown sort field {name!r} for /{resource.name}. Allowed: "
                                f"{', '.join(sorted(resource.sortable))}.")
        keys.append((name, descending))
    return keys


def _sort_key(value: Any) -> tuple[bool, bool, Any]:
    """Nulls last (ascending); numbers before strings so mixed columns never raise."""
    if value is None:
        return (True, False, 0)
    if isinstance(value, int | float):
        return (False, False, value)
    return (False, True, str(value))


def sort_records(records: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable multi-key sort: sort by the last key first (Python's sort is stable)."""
    ordered = list(records)
    for name, descending in reversed(keys or [("id", False)]):
        ordered.sort(key=_field_key(name), reverse=descending)
    return ordered


def _field_key(name: str) -> Callable[[Mapping[str, Any]], tuple[bool, bool, Any]]:
    return lambda record: _sort_key(record.get(name))


# ---- views ----
def _csv(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()]


def view(record: Mapping[str, Any], resource: Resource, query: Query, *, expand_all: bool = False) -> dict[str, Any]:
    """A record as served: ``fields`` narrows the plain fields, ``expand`` adds collections."""
    fields = _csv(query.get("fields"))
    expand = set(resource.expandable) if expand_all else set(_csv(query.get("expand")))
    out = {k: copy.deepcopy(v) for k, v in record.items() if k not in resource.expandable}
    if fields:
        out = {k: out[k] for k in fields if k in out}
    for name in resource.expandable:
        if name in expand:
            out[name] = copy.deepcopy(record.get(name) or [])
    return out


def unexpanded(resource: Resource, query: Query, *, expand_all: bool = False) -> list[str]:
    """What the client could still ask to expand (the ``_expandable`` list)."""
    expand = set(resource.expandable) if expand_all else set(_csv(query.get("expand")))
    return [name for name in resource.expandable if name not in expand]


def _page_number(query: Query, name: str, default: int) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        return default


def list_page(resource: Resource, state: SandboxState, query: Query,
              sort: list[tuple[str, bool]]) -> tuple[dict[str, Any], dict[str, str]]:
    """The list envelope and ``X-Pagination-*`` headers for one page of the resource's records.

    What the filters and sort select is kept until the table changes (`SandboxState.derived`):
    filtering and sorting every job for every page made a page's cost grow with the table.
    """
    conditions = parse_filters(resource, query)  # on every request: a bad bound is a 400 every time
    records = state.table(SF, resource.entity)
    key = (tuple(sorted((k, v) for k, v in query.items() if _FILTER_KEY.match(k))), tuple(sort))
    matching = state.derived(SF, resource.entity, key, lambda: sort_records(
        [r for r in records.values() if all(c.matches(r) for c in conditions)], sort))
    per_page = min(MAX_PER_PAGE, max(1, _page_number(query, "per-page", DEFAULT_PER_PAGE)))
    total = len(matching)
    page_count = math.ceil(total / per_page)
    page = min(max(1, _page_number(query, "page", 1)), max(1, page_count))
    items = [view(r, resource, query) for r in matching[(page - 1) * per_page:page * per_page]]
    meta = {"totalCount": total, "pageCount": page_count, "currentPage": page, "perPage": per_page}
    envelope = {"items": items, "_expandable": unexpanded(resource, query), "_meta": meta}
    headers = {"X-Pagination-Total-Count": str(total), "X-Pagination-Page-Count": str(page_count),
               "X-Pagination-Current-Page": str(page), "X-Pagination-Per-Page": str(per_page)}
    return envelope, headers
