"""Strict verification at the cost of one bulk read per push step instead of one read per write.

Under ``pw_verify_strict`` every job create and every PW write checks the PW work order first.
Reading each one with ``getWorkOrder`` costs a PW call per write; `WorkOrderSnapshot` instead
reads, once, the work orders PW changed since this run's ingest (``getWorkOrders`` from the
``pw/work_orders`` high-water mark minus the ingest overlap, usually one page) and answers:

* a work order in that read: the fresh record;
* otherwise: the latest version ingest landed in the warehouse - PW has not changed it since,
  so it is what a re-read would return;
* a work order this step has written, one the read could not decode, one the warehouse does
  not hold, or no high-water mark at all: a per-item ``getWorkOrder``, as before.

Lookups that decide whether a write already happened (`requires_lookup`: a retry, a crashed or
replayed send) never use the snapshot: the executor calls `Gateway.lookup` for them, which
always reads the work order itself.

What the snapshot cannot see: a work order deleted in PW since ingest (no modified record)
and changes made after the bulk read, while the step runs.

`SfJobSnapshot` does the same for the safe-mode check before a *first* SF job create (decision
0007): one read of the SF jobs changed since the ``sf/jobs`` mark minus the overlap instead of
one ``po_number`` lookup per create. Jobs ingest landed were already excluded by the plan; the
read adds those SF changed since. It answers only for first attempts: anything possibly sent
before is looked up per item (`Gateway.lookup`).

`SfCustomerSnapshot` is the same check for a first SF customer create (decision 0008): one
newest-first read of the customers changed since the ``sf/customers`` mark minus the overlap,
indexed by their PW id stamp, instead of one name search per create.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.core.dedup import stamped_work_order_ids
from greenlight_dagster.core.fields import as_items, as_text
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.payloads import CUSTOMER_ID_FIELDS
from greenlight_dagster.core.plan import reverify_work_order
from greenlight_dagster.core.text import normalize_text

#: One work order read from PW (``getWorkOrder``), None when PW has no such id.
ReadWorkOrder = Callable[[int], dict[str, Any] | None]
#: The warehouse's current version of a work order (as ingest landed it), None when it has none.
StoredWorkOrder = Callable[[int], Mapping[str, Any] | None]
#: The work orders PW changed since ingest (one ``iter_records`` stream).
ReadChanged = Callable[[], Iterable[SourceRecord | RejectedRecord]]
#: More changed SF jobs (or customers) than this since the mark and the snapshot gives up (the step falls
#: back to per-item lookups): a mark that old means no recent ingest, and per item is then the cheaper read.
MAX_CHANGED_JOBS = 1_000
MAX_CHANGED_CUSTOMERS = 1_000
#: A customer's PW id stamp: (normalized custom field name, value), e.g. ("pw tenant id", "500123").
CustomerStamp = tuple[str, str]
_STAMP_FIELDS = frozenset(normalize_text(name) for name in CUSTOMER_ID_FIELDS.values())


class WorkOrderSnapshot:
    """The PW work orders as of the first verification of a push step (module docstring)."""

    def __init__(self, *, get: ReadWorkOrder, stored: StoredWorkOrder, read_changed: ReadChanged | None) -> None:
        self.get, self.stored, self.read_changed = get, stored, read_changed
        self._fresh: dict[int, dict[str, Any]] | None = None
        self._unreadable: set[int] = set()
        self._per_item = read_changed is None
        self._touched: set[int] = set()

    def _load(self) -> dict[int, dict[str, Any]]:
        if self._fresh is None:
            fresh: dict[int, dict[str, Any]] = {}
            if self.read_changed is not None:
                for record in self.read_changed():
                    if isinstance(record, SourceRecord):
                        fresh[record.source_id] = record.payload
                        continue
                    try:
                        self._unreadable.add(int(record.source_key or ""))
                    except ValueError:  # a changed work order we cannot name: trust nothing stored
                        self._per_item = True
            self._fresh = fresh
        return self._fresh

    def current(self, work_order_id: int) -> dict[str, Any] | None:
        """The work order as PW has it now (module docstring for where the answer comes from)."""
        fresh = self._load()
        if self._per_item or work_order_id in self._touched or work_order_id in self._unreadable:
            return self.get(work_order_id)
        if work_order_id in fresh:
            return dict(fresh[work_order_id])
        stored = self.stored(work_order_id)
        return dict(stored) if stored is not None else self.get(work_order_id)

    def touched(self, work_order_id: int) -> None:
        """This step is writing the work order: its snapshot copy is stale from now on."""
        self._touched.add(work_order_id)


class PlannedWorkOrders:
    """The work orders the plan used (the warehouse's job candidates), read once per step.

    The per-item read (``get``: one query of the ``sync_sf_job_creates`` view per create) makes
    PostgreSQL evaluate the whole view each time - 2.3 s per job create at ``large``, where a first
    sync creates ~14,000 jobs. ``read_all`` reads the view once, at the first question; a work
    order it did not return is still asked on its own, so a candidate that appeared since (none
    should: the warehouse does not change during a push step) is not refused by mistake.
    """

    def __init__(self, read_all: Callable[[], Iterable[tuple[int, Mapping[str, Any]]]], get: StoredWorkOrder) -> None:
        self.read_all, self.get = read_all, get
        self._all: dict[int, Mapping[str, Any]] | None = None

    def __call__(self, work_order_id: int) -> Mapping[str, Any] | None:
        if self._all is None:
            self._all = dict(self.read_all())
        found = self._all.get(work_order_id)
        return found if found is not None else self.get(work_order_id)


def bulk_work_order_verifier(snapshot: WorkOrderSnapshot, planned: StoredWorkOrder,
                             flags: SyncFlags) -> Callable[[int], str | None]:
    """Strict verification of a job create (a `outbox.gateways.WorkOrderVerifier`), as the per-item
    verifier does it - `reverify_work_order` of the current work order against the planned one -
    with the current work order from ``snapshot``."""
    def verify(work_order_id: int) -> str | None:
        plan_record = planned(work_order_id)
        if plan_record is None:
            return "work order is no longer a job candidate in the warehouse"
        return reverify_work_order(snapshot.current(work_order_id), plan_record, flags)

    return verify


K = TypeVar("K", bound=Hashable)


class _ChangedSince(Generic[K]):
    """SF records changed since an ingest mark, indexed by what they are stamped with (one read, at the
    first question). None from `ids` when the read cannot vouch for "not there": no mark, a record it
    cannot decode (it may carry any stamp), more than ``max_changed`` records (a stale mark)."""

    def __init__(self, read_changed: ReadChanged | None, keys: Callable[[Mapping[str, Any]], Iterable[K]], *,
                 max_changed: int) -> None:
        self.read_changed = read_changed
        self.keys = keys
        self.max_changed = max_changed
        self._index: dict[K, list[int]] | None = None
        self._usable = read_changed is not None

    def _load(self) -> dict[K, list[int]]:
        if self._index is None:
            index: dict[K, list[int]] = {}
            if self.read_changed is not None:
                for n, record in enumerate(self.read_changed(), start=1):
                    if not isinstance(record, SourceRecord) or n > self.max_changed:
                        self._usable = False  # a record we cannot read may carry any stamp; too many: stale mark
                        break
                    for key in self.keys(record.payload):
                        index.setdefault(key, []).append(record.source_id)
            self._index = index
        return self._index

    def ids(self, key: K) -> list[int] | None:
        """Ids of the changed records stamped ``key`` (sorted; empty: none), or None (ask per item)."""
        if not self._usable:
            return None
        found = self._load().get(key, [])
        return sorted(set(found)) if self._usable else None


class SfJobSnapshot(_ChangedSince[int]):
    """SF jobs stamped with a PW work order, changed since the ``sf/jobs`` ingest (module docstring).

    `stamped_jobs` answers "which SF jobs carry this work order's stamp" from one read, made at
    the first question of the step; None when the read cannot answer (no mark, an undecodable
    job, more than ``max_changed`` changed jobs), and the caller asks SF per item instead.
    """

    def __init__(self, read_changed: ReadChanged | None, *, max_changed: int = MAX_CHANGED_JOBS) -> None:
        super().__init__(read_changed, stamped_work_order_ids, max_changed=max_changed)

    def stamped_jobs(self, work_order_id: int) -> list[int] | None:
        """Ids of the changed SF jobs stamped with ``work_order_id`` (sorted; empty: none), or None."""
        return self.ids(work_order_id)


def customer_stamps(customer: Mapping[str, Any]) -> list[CustomerStamp]:
    """The PW id stamps a customer (or a customer create body) carries in its custom fields."""
    stamps: list[CustomerStamp] = []
    for field in as_items(customer.get("custom_fields")):
        if isinstance(field, Mapping):
            name, value = normalize_text(as_text(field.get("name"))), as_text(field.get("value"))
            if name in _STAMP_FIELDS:
                stamps.append((name, value))
    return stamps


class SfCustomerSnapshot(_ChangedSince[CustomerStamp]):
    """SF customers with a PW id stamp, changed since the ``sf/customers`` ingest (decision 0008).

    Customers stamped before ingest are in the warehouse and the plan already matched them; this
    read adds the ones SF changed since (created or edited by someone else, whatever their name).
    Customers have no server-side time filter: the read is newest first and stops below the mark.
    """

    def __init__(self, read_changed: ReadChanged | None, *, max_changed: int = MAX_CHANGED_CUSTOMERS) -> None:
        super().__init__(read_changed, customer_stamps, max_changed=max_changed)

    def stamped_customers(self, stamp: CustomerStamp) -> list[int] | None:
        """Ids of the changed SF customers carrying ``stamp`` (sorted; empty: none), or None."""
        return self.ids(stamp)
