"""The two targets as the executor sees them: how to send, look up and verify each operation.

Lookups are what make a lost response harmless, so each says exactly how it recognises "our"
record on the target:

* **SF job** - ``GET /jobs?filters[po_number]=PW-<id>``; the filter is a partial match, so only
  jobs whose stamp parses to exactly this work order id count (`stamped_work_order_ids`). The
  safe-mode check before a first create (`verify_lookup`) answers from the step's bulk read of
  the jobs SF changed since ingest when it has one (`outbox.bulk_verify.SfJobSnapshot`).
* **SF customer** - matched on the PW id stamped in the ``PW Portfolio ID`` / ``PW Tenant ID``
  custom field, among the customers whose name contains the name we send (one request). After a
  create that may have been sent (`lookup`), a name that finds nothing is followed by a read of
  every customer, newest first: an office user may have renamed it. The safe-mode check before
  a first create (`verify_lookup`) answers from the step's bulk read of the customers SF changed
  since ingest when it has one (`outbox.bulk_verify.SfCustomerSnapshot`, decision 0008), else
  trusts the name search.
* **PW update** - the work order already has the target status; **PW close** - it is already
  in a terminal status; **PW note** - the exact note text is already attached (the note names
  the SF job, so the text is unique). Re-sending an update is harmless; the note lookup is
  what keeps a note from being attached twice after a lost answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.core.dedup import stamped_work_order_ids
from greenlight_dagster.core.fields import as_int, as_items, as_text
from greenlight_dagster.core.idempotency import parse_cross_system_id
from greenlight_dagster.core.ledger import LedgerEntry
from greenlight_dagster.core.statuses import DEFAULT_STATUS_RULES, StatusRules, normalize_status
from greenlight_dagster.outbox.bulk_verify import (
    CustomerStamp,
    SfCustomerSnapshot,
    SfJobSnapshot,
    WorkOrderSnapshot,
    customer_stamps,
)
from greenlight_dagster.outbox.executor import Lookup

#: Re-reads a PW work order just before its SF job is created: why it no longer qualifies, or None.
WorkOrderVerifier = Callable[[int], str | None]


class UnsupportedOperationError(ValueError):
    """A ledger entry whose operation this gateway does not perform (a planning bug)."""


class ServiceFusionWriter(Protocol):
    def create_job(self, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def create_customer(self, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def find_jobs_by_po_number(self, po_number: str) -> list[dict[str, Any]]: ...


#: SF customers whose name contains the given name; ``None``: every customer, newest first.
CustomerSearch = Callable[[str | None], Iterable[Mapping[str, Any]]]


class CustomerReader(Protocol):
    def iter_records(self, entity: str) -> Iterable[SourceRecord | RejectedRecord]: ...
    def find_customers_by_name(self, name: str) -> list[dict[str, Any]]: ...


def customer_search(client: CustomerReader) -> CustomerSearch:
    """Customer search over the client: by name (one request), or every customer newest first.

    The full read is deliberately unbounded in time: SF's clock (the sandbox's in particular)
    need not agree with ours, and a time bound that skipped the customer would turn a lookup into
    a duplicate. It runs only after a create may have been sent, which is rare.
    """
    def search(name: str | None) -> Iterator[Mapping[str, Any]]:
        if name:
            yield from client.find_customers_by_name(name)
            return
        for record in client.iter_records("customers"):
            if isinstance(record, SourceRecord):
                yield record.payload

    return search


class PropertyWareWriter(Protocol):
    def get_work_order(self, work_order_id: int) -> dict[str, Any] | None: ...
    def update_work_order(self, work_order_id: int, *, status: str | None = None, **fields: Any) -> dict[str, Any]:
        ...
    def close_work_order(self, work_order_id: int, *, category: str, closing_comments: str,
                         completed_date: str | None = None, start_date: str | None = None) -> dict[str, Any] | None:
        ...
    def attach_note(self, work_order_id: int, note: str) -> dict[str, Any]: ...


def _id_of(record: Mapping[str, Any] | None) -> str | None:
    value = record.get("id") if record is not None else None
    return None if value is None else str(value)


def _customer_stamp(entry: LedgerEntry) -> CustomerStamp | None:
    """The PW id stamp a customer create carries (the first of its `customer_stamps`), None when it carries none."""
    return next(iter(customer_stamps(entry.payload)), None)


def _work_order_id(entry: LedgerEntry) -> int:
    wo_id = as_int(entry.payload.get("workOrderID")) if entry.target == "pw" else parse_cross_system_id(
        entry.payload.get("po_number"))
    if wo_id is None:
        raise UnsupportedOperationError(f"{entry.idempotency_key}: payload names no work order")
    return wo_id


class ServiceFusionGateway:
    """Job and customer creates on ServiceFusion (its API cannot update or delete)."""

    target = "sf"
    verify_by_lookup = False

    def __init__(self, client: ServiceFusionWriter, *, verifier: WorkOrderVerifier | None = None,
                 customer_search: CustomerSearch | None = None, job_snapshot: SfJobSnapshot | None = None,
                 customer_snapshot: SfCustomerSnapshot | None = None) -> None:
        self.client = client
        self.verifier = verifier
        self.customer_search = customer_search
        self.job_snapshot = job_snapshot
        self.customer_snapshot = customer_snapshot

    def send(self, entry: LedgerEntry) -> str | None:
        if entry.operation == "create_job":
            return _id_of(self.client.create_job(dict(entry.payload)))
        if entry.operation == "create_customer":
            return _id_of(self.client.create_customer(dict(entry.payload)))
        raise UnsupportedOperationError(f"{entry.idempotency_key}: ServiceFusion cannot {entry.operation}")

    def lookup(self, entry: LedgerEntry) -> Lookup:
        if entry.operation == "create_job":
            wo_id = _work_order_id(entry)
            jobs = [job for job in self.client.find_jobs_by_po_number(str(entry.payload["po_number"]))
                    if wo_id in stamped_work_order_ids(job)]
            ids = sorted(job_id for job in jobs if (job_id := as_int(job.get("id"))) is not None)
            if not ids:
                return Lookup.absent(f"no SF job stamped with work order {wo_id}")
            return Lookup.found(str(ids[0]), f"SF jobs stamped with work order {wo_id}: {ids}")
        if entry.operation == "create_customer":
            return self._lookup_customer(entry, thorough=True)
        raise UnsupportedOperationError(f"{entry.idempotency_key}: ServiceFusion cannot {entry.operation}")

    def _lookup_customer(self, entry: LedgerEntry, *, thorough: bool) -> Lookup:
        if self.customer_search is None:
            return Lookup.unsearchable("no customer search configured")
        stamp = _customer_stamp(entry)
        if stamp is None:
            return Lookup.unsearchable("the customer body carries no PW id stamp")
        name = as_text(entry.payload.get("customer_name")) or None
        searches = (name, None) if thorough else (name,)
        for query in dict.fromkeys(searches):
            for customer in self.customer_search(query):
                if stamp in customer_stamps(customer):
                    return Lookup.found(str(customer["id"]), f"SF customer stamped {stamp[1]}")
        return Lookup.absent(f"no SF customer stamped {stamp[1]}")

    def verify_lookup(self, entry: LedgerEntry) -> Lookup:
        """The safe-mode check before a first create: from the step's bulk read of what SF changed since
        ingest - customers by their PW stamp (``customer_snapshot``, decision 0008), jobs by their
        po_number stamp (``job_snapshot``, decision 0007) - else per item: a customer by its name
        only (one request), a job by its own po_number lookup."""
        if entry.operation == "create_customer":
            stamp = _customer_stamp(entry)
            found = (self.customer_snapshot.stamped_customers(stamp)
                     if self.customer_snapshot is not None and stamp is not None else None)
            if found:
                return Lookup.found(str(found[0]), f"SF customers changed since ingest stamped {stamp}: {found}")
            if found is not None:
                return Lookup.absent(f"no SF customer changed since ingest is stamped {stamp}")
            return self._lookup_customer(entry, thorough=False)
        if entry.operation == "create_job" and self.job_snapshot is not None:
            wo_id = _work_order_id(entry)
            ids = self.job_snapshot.stamped_jobs(wo_id)
            if ids:
                return Lookup.found(str(ids[0]), f"SF jobs changed since ingest stamped with work order {wo_id}: {ids}")
            if ids is not None:
                return Lookup.absent(f"no SF job changed since ingest is stamped with work order {wo_id}")
        return self.lookup(entry)

    def verify(self, entry: LedgerEntry) -> str | None:
        if entry.operation != "create_job" or self.verifier is None:
            return None
        return self.verifier(_work_order_id(entry))


class PropertyWareGateway:
    """Work order updates, closes and notes on PropertyWare.

    ``verify_by_lookup``: under ``pw_verify_strict`` the executor re-reads the work order
    (the lookup) before every PW write, so a work order a user already closed is not touched.
    With a ``snapshot`` that re-read comes from one bulk read per step (`verify_lookup`);
    `lookup` - after a write that may have landed, and for orphans - always reads the work order.
    """

    target = "pw"
    verify_by_lookup = True

    def __init__(self, client: PropertyWareWriter, *, rules: StatusRules = DEFAULT_STATUS_RULES,
                 snapshot: WorkOrderSnapshot | None = None) -> None:
        self.client = client
        self.rules = rules
        self.snapshot = snapshot

    def send(self, entry: LedgerEntry) -> str | None:
        wo_id = _work_order_id(entry)
        if self.snapshot is not None:
            self.snapshot.touched(wo_id)
        payload = entry.payload
        if entry.operation == "update_work_order":
            self.client.update_work_order(wo_id, status=payload["status"])
        elif entry.operation == "close_work_order":
            self.client.close_work_order(wo_id, category=as_text(payload.get("category")),
                                         closing_comments=as_text(payload.get("closingComments")),
                                         completed_date=payload.get("completedDate"),
                                         start_date=payload.get("startDate"))
        elif entry.operation == "attach_note":
            self.client.attach_note(wo_id, as_text(payload.get("note")))
        else:
            raise UnsupportedOperationError(f"{entry.idempotency_key}: PropertyWare push cannot {entry.operation}")
        return str(wo_id)

    def lookup(self, entry: LedgerEntry) -> Lookup:
        wo_id = _work_order_id(entry)
        return self._lookup_in(entry, wo_id, self.client.get_work_order(wo_id))

    def verify_lookup(self, entry: LedgerEntry) -> Lookup:
        """The strict re-read before a write no earlier attempt may have sent: from the snapshot."""
        if self.snapshot is None:
            return self.lookup(entry)
        wo_id = _work_order_id(entry)
        return self._lookup_in(entry, wo_id, self.snapshot.current(wo_id))

    def _lookup_in(self, entry: LedgerEntry, wo_id: int, work_order: Mapping[str, Any] | None) -> Lookup:
        if work_order is None:
            return Lookup.absent(f"work order {wo_id} not found in PropertyWare")
        status = as_text(work_order.get("status"))
        if entry.operation == "update_work_order":
            if normalize_status(status) == normalize_status(as_text(entry.payload.get("status"))):
                return Lookup.found(str(wo_id), f"work order {wo_id} is already {status}")
            if self.rules.is_pw_terminal(status):
                return Lookup.found(str(wo_id), f"work order {wo_id} is already {status} (terminal)")
            return Lookup.absent(f"work order {wo_id} is {status}")
        if entry.operation == "close_work_order":
            if self.rules.is_pw_terminal(status):
                return Lookup.found(str(wo_id), f"work order {wo_id} is already {status}")
            return Lookup.absent(f"work order {wo_id} is {status}")
        if entry.operation == "attach_note":
            notes = as_items(work_order.get("notes"))  # PW leaves the element out when there are none
            wanted = as_text(entry.payload.get("note"))
            texts = {as_text(n.get("note")) if isinstance(n, Mapping) else as_text(n) for n in notes}
            return Lookup.found(str(wo_id)) if wanted in texts else Lookup.absent("note not attached yet")
        raise UnsupportedOperationError(f"{entry.idempotency_key}: PropertyWare push cannot {entry.operation}")

    def verify(self, entry: LedgerEntry) -> str | None:
        return None
