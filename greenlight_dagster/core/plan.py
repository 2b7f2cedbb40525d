"""The push plan: from candidate rows to an ordered list of intended writes and held-back items.

The ``sync_*`` dbt models say *what could* be pushed; this module decides *what will* be, and
why not for everything else. The same plan serves the dry run (written to the ledger as
``planned``, shown in the preview) and the real run, so the preview is exactly what a real
run does. Every candidate ends up as a write or as a `HeldBack` with a reason.

Order: customer creates (portfolios before their tenants), then job creates (oldest work order
first, so a safe-mode cap lets the oldest through), then PW updates from SF job progress.

Rules worth knowing:

* a work order whose create is already ``done`` in the ledger is never created again; if its
  job content (everything but the status, which flows SF -> PW) changed since, the plan holds
  an ``attention`` write instead - the SF API cannot update a job;
* the safe-mode cap counts creates (jobs and customers) in this plan, including ones already
  ``planned`` by an earlier dry run;
* a PropertyWare write no configured PW API can make (`core.pw_api.route_write`: a status
  change or note with only the REST API, a REST close of a work order without a vendor) is
  held as ``pw_api_unavailable`` with the reason;
* customer changes after the SF customer exists are not propagated (SF cannot update either);
  the customer stays mapped;
* the ledger is the freshest customer mapping: a portfolio customer we created (``done``, its SF
  id in ``target_id``) is the parent of the portfolio's tenants and the customer of work orders
  the warehouse cannot map yet (`map_customer`'s building -> portfolio fallback), before any
  ingest has seen it. While that create is still to be sent, the tenant or work order is held
  as ``awaiting_customer`` - never planned on a guess - and the push re-plans it once the
  customer exists (`outbox.planning`), so a fresh world converges in one sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from greenlight_dagster.core.dedup import DEFAULT_FUZZY_PARAMS, DuplicateDecision, FuzzyParams, detect_duplicate
from greenlight_dagster.core.fields import as_int, as_text, as_timestamp
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.idempotency import (
    CREATE_ONCE_OPERATIONS,
    entity_source_id,
    idempotency_key,
    payload_hash,
)
from greenlight_dagster.core.ledger import LATEST_WINS_OPERATIONS, SF_VERSION_FIELD, LedgerEntry, LedgerState
from greenlight_dagster.core.matching import match_customer
from greenlight_dagster.core.payloads import (
    PayloadError,
    PwWrite,
    build_customer_body,
    build_job_body,
    build_pw_note,
    build_pw_update,
)
from greenlight_dagster.core.pw_api import SOAP_ONLY, PwApis, route_write
from greenlight_dagster.core.statuses import DEFAULT_STATUS_RULES, StatusRules, UnmappedStatusError, in_open_list

__all__ = [
    "CustomerCandidate", "HeldBack", "HoldReason", "PlannedWrite", "ProgressCandidate", "PushPlan", "SyncFlags",
    "WorkOrderCandidate", "build_push_plan", "job_changes", "reverify_work_order",
]


class HoldReason(StrEnum):
    UNIT_ROUTING = "unit_routing"
    STATUS_NOT_OPEN = "status_not_open"
    UNMAPPED_STATUS = "unmapped_status"
    UNMAPPED_CUSTOMER = "unmapped_customer"
    PAYLOAD_ERROR = "payload_error"
    SAFE_MODE_VALIDATION = "safe_mode_validation"
    SAFE_MODE_CAP = "safe_mode_cap"
    DUPLICATE = "duplicate"
    DUPLICATE_CANDIDATE = "duplicate_candidate"
    ALREADY_MAPPED = "already_mapped"
    ALREADY_DONE = "already_done"
    IN_FLIGHT = "in_flight"
    DEAD_LETTER = "dead_letter"
    AWAITING_ATTENTION = "awaiting_attention"
    AWAITING_CUSTOMER = "awaiting_customer"
    PW_API_UNAVAILABLE = "pw_api_unavailable"
    STAMP_CONFLICT = "stamp_conflict"
    SUPERSEDED = "superseded"


_LEDGER_HOLDS = {
    LedgerState.DONE: HoldReason.ALREADY_DONE,
    LedgerState.SENDING: HoldReason.IN_FLIGHT,
    LedgerState.FAILED: HoldReason.IN_FLIGHT,
    LedgerState.DEAD: HoldReason.DEAD_LETTER,
    LedgerState.ATTENTION: HoldReason.AWAITING_ATTENTION,
    LedgerState.SUPERSEDED: HoldReason.SUPERSEDED,
}


@dataclass(frozen=True)
class PlannedWrite:
    """One intended write, ready to become a ledger row."""

    target: str
    operation: str
    source_id: str
    payload: Mapping[str, Any]
    idempotency_key: str
    payload_hash: str

    @classmethod
    def of(cls, target: str, operation: str, source_id: int | str, payload: Mapping[str, Any]) -> PlannedWrite:
        return cls(target, operation, str(source_id), payload,
                   idempotency_key(target, operation, source_id, payload), payload_hash(payload))

    @property
    def is_create(self) -> bool:
        return self.operation in CREATE_ONCE_OPERATIONS

    def ledger_entry(self, now: datetime, run_id: str | None = None) -> LedgerEntry:
        """The new ledger row; ``attention`` writes are recorded for a person, not sent."""
        state = LedgerState.ATTENTION if self.operation == "attention" else LedgerState.PLANNED
        return LedgerEntry.new(self.target, self.operation, self.source_id, self.payload,
                               now=now, run_id=run_id, state=state)


@dataclass(frozen=True)
class HeldBack:
    target: str
    operation: str
    source_id: str
    reason: HoldReason
    detail: str


@dataclass(frozen=True)
class WorkOrderCandidate:
    """An open PW work order with no SF job, with what the warehouse knows about it.

    ``routing_ok``/``routing_reason`` is the unit-rule flag from staging (`check_unit_routing`);
    ``sf_category`` an SF job category already resolved against the account; ``sf_jobs`` the SF
    jobs of its customer and address, for the duplicate check; ``portfolio_id`` the building's
    portfolio, whose customer the work order falls back to while ``customer`` is None.
    """

    work_order: Mapping[str, Any]
    customer: Mapping[str, Any] | None
    unit: Mapping[str, Any] | None
    building: Mapping[str, Any] | None
    routing_ok: bool = True
    routing_reason: str | None = None
    sf_category: str | None = None
    sf_jobs: Sequence[Mapping[str, Any]] = ()
    portfolio_id: int | None = None
    stamp_problem: str | None = None


@dataclass(frozen=True)
class CustomerCandidate:
    """A PW portfolio or lease tenant that SF needs as a customer (see `build_customer_body`).

    ``portfolio_id`` (tenants): the portfolio whose customer becomes the parent while the
    warehouse maps none (``parent_customer`` None).
    """

    kind: Literal["portfolio", "tenant"]
    record: Mapping[str, Any]
    sf_customers: Sequence[Mapping[str, Any]] = ()
    address: Mapping[str, Any] | None = None
    parent_customer: int | str | None = None
    contacts: Sequence[Mapping[str, Any]] = ()
    locations: Sequence[Mapping[str, Any]] = ()
    portfolio_id: int | None = None


@dataclass(frozen=True)
class ProgressCandidate:
    """An SF job linked to a PW work order; ``status_category`` from ``/job-statuses``.

    ``link_problem``: why the job cannot be followed (another job claims the work order too, or
    its stamps are not trusted): the work order's PW writes are held with it. ``sf_version``
    identifies the SF data the status write comes from (the raw version of the job), so each SF
    state is its own write: a status that goes back is pushed again (decision 0012).
    """

    sf_job: Mapping[str, Any]
    work_order: Mapping[str, Any]
    status_category: str | None = None
    link_problem: str | None = None
    sf_version: int | None = None


@dataclass(frozen=True)
class PushPlan:
    flags: SyncFlags
    writes: tuple[PlannedWrite, ...]
    held_back: tuple[HeldBack, ...]
    decisions: tuple[tuple[str, DuplicateDecision], ...] = ()

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for write in self.writes:
            counts[f"{write.target}.{write.operation}"] = counts.get(f"{write.target}.{write.operation}", 0) + 1
        for held in self.held_back:
            counts[f"held.{held.reason.value}"] = counts.get(f"held.{held.reason.value}", 0) + 1
        return dict(sorted(counts.items()))

    def preview_rows(self) -> list[dict[str, Any]]:
        """Record-by-record view for the preview asset and ``greenlight preview``."""
        rows: list[dict[str, Any]] = [
            {"action": "write", "target": w.target, "operation": w.operation, "source_id": w.source_id,
             "idempotency_key": w.idempotency_key, "will_send": self.flags.may_send(w.target) and
             w.operation != "attention", "detail": _describe(w.payload)}
            for w in self.writes
        ]
        rows += [
            {"action": "hold", "target": h.target, "operation": h.operation, "source_id": h.source_id,
             "idempotency_key": None, "will_send": False, "detail": f"{h.reason.value}: {h.detail}"}
            for h in self.held_back
        ]
        return rows


def _describe(payload: Mapping[str, Any]) -> str:
    keys = ("customer_name", "po_number", "status", "description", "reason", "note")
    return "; ".join(f"{k}={payload[k]}" for k in keys if k in payload)[:300]


def job_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Job-body fields that differ, status excluded (it flows SF -> PW, so PW echoes it back)."""
    names = (set(before) | set(after)) - {"status"}
    return {name: {"was": before.get(name), "now": after.get(name)}
            for name in sorted(names) if before.get(name) != after.get(name)}


def reverify_work_order(fresh: Mapping[str, Any] | None, planned: Mapping[str, Any], flags: SyncFlags) -> str | None:
    """Strict verification (``pw_verify_strict``): why the work order re-read from PW just before
    its push (``fresh``) no longer qualifies, compared with the record the plan was built from
    (``planned``); None if it still does."""
    if fresh is None:
        return "work order no longer exists in PropertyWare"
    if not in_open_list(as_text(fresh.get("status")), flags.pw_open_statuses):
        return f"status is now {fresh.get('status')!r}, not an open status"
    for key in ("buildingID", "unitID"):
        if as_int(fresh.get(key)) != as_int(planned.get(key)):
            return f"{key} changed from {planned.get(key)!r} to {fresh.get(key)!r}"
    return None


class _Planner:
    """Accumulates one plan; each ``add_*`` turns one candidate into a write or a hold."""

    def __init__(self, flags: SyncFlags, ledger: Mapping[str, LedgerEntry], run_creates: int = 0,
                 pw_apis: PwApis = SOAP_ONLY) -> None:
        self.flags, self.ledger, self.pw_apis = flags, ledger, pw_apis
        self.writes: list[PlannedWrite] = []
        self.held: list[HeldBack] = []
        self.decisions: list[tuple[str, DuplicateDecision]] = []
        self.seen: set[str] = set()
        self.planned_keys: set[str] = set()
        self.creates = run_creates

    def hold(self, target: str, operation: str, source_id: str, reason: HoldReason, detail: str) -> None:
        self.held.append(HeldBack(target, operation, source_id, reason, detail))

    def ledger_hold(self, write: PlannedWrite) -> bool:
        """Hold a write whose ledger row is past ``planned``; True if held."""
        entry = self.ledger.get(write.idempotency_key)
        if entry is None or entry.state is LedgerState.PLANNED:
            return False
        self.hold(write.target, write.operation, write.source_id, _LEDGER_HOLDS[entry.state],
                  f"ledger entry {entry.idempotency_key} is {entry.state.value}")
        return True

    def add(self, write: PlannedWrite) -> None:
        """Add a write unless the ledger or the safe-mode cap holds it."""
        if self.ledger_hold(write):
            return
        if write.is_create:
            if self.flags.safe_mode and self.creates >= self.flags.safe_mode_max_creates:
                self.hold(write.target, write.operation, write.source_id, HoldReason.SAFE_MODE_CAP,
                          f"safe mode allows {self.flags.safe_mode_max_creates} creates per run")
                return
            self.creates += 1
        self.writes.append(write)
        self.planned_keys.add(write.idempotency_key)

    def created_customer(self, portfolio_id: int | None) -> tuple[dict[str, Any] | None, str | None]:
        """The portfolio's SF customer as our own create left it in the ledger, or why to wait.

        Returns ({id, customer_name}, None) once the create is ``done``; (None, detail) while it
        is planned in this plan or in flight (``sending``/``failed``: a retry in this run may
        still succeed); (None, None) when no create of ours is coming.
        """
        if portfolio_id is None:
            return None, None
        source_id = entity_source_id("portfolio", portfolio_id)
        key = idempotency_key("sf", "create_customer", source_id)
        entry = self.ledger.get(key)
        customer_id = as_int(entry.target_id) if entry is not None else None
        if entry is not None and entry.state is LedgerState.DONE and customer_id is not None:
            return {"id": customer_id, "customer_name": entry.payload.get("customer_name")}, None
        if key in self.planned_keys:
            return None, f"waits for customer {source_id}, planned in this run"
        if entry is not None and entry.state in (LedgerState.SENDING, LedgerState.FAILED):
            return None, f"waits for customer {source_id}, whose create is {entry.state.value}"
        return None, None

    def first_time(self, key: str, target: str, operation: str, source_id: str) -> bool:
        if key in self.seen:
            self.hold(target, operation, source_id, HoldReason.DUPLICATE_CANDIDATE, "listed twice in the candidates")
            return False
        self.seen.add(key)
        return True

    def add_customer(self, candidate: CustomerCandidate) -> None:
        entity_id = as_int(candidate.record.get("id"))
        source_id = entity_source_id(candidate.kind, entity_id if entity_id is not None else "unknown")
        op = "create_customer"
        if entity_id is None:
            self.hold("sf", op, source_id, HoldReason.PAYLOAD_ERROR, f"{candidate.kind} has no valid id")
            return
        if not self.first_time(f"customer:{source_id}", "sf", op, source_id):
            return
        parent = candidate.parent_customer
        if candidate.kind == "tenant" and parent is None:
            created, waits = self.created_customer(candidate.portfolio_id)
            if waits is not None:
                self.hold("sf", op, source_id, HoldReason.AWAITING_CUSTOMER, waits)
                return
            parent = created["id"] if created is not None else None
        try:
            body = build_customer_body(candidate.kind, candidate.record, parent_customer=parent,
                                       contacts=candidate.contacts, locations=candidate.locations)
        except PayloadError as exc:
            self.hold("sf", op, source_id, HoldReason.PAYLOAD_ERROR, str(exc))
            return
        match = match_customer(body["customer_name"], candidate.address, candidate.sf_customers)
        if match is not None:
            self.hold("sf", op, source_id, HoldReason.ALREADY_MAPPED,
                      f"SF customer {match.customer_id} ({match.method}, confidence {match.confidence})")
            return
        self.add(PlannedWrite.of("sf", op, source_id, body))

    def add_work_order(self, candidate: WorkOrderCandidate, rules: StatusRules, fuzzy: FuzzyParams) -> None:
        wo = candidate.work_order
        wo_id = as_int(wo.get("id"))
        op = "create_job"
        if wo_id is None or wo_id <= 0:
            self.hold("sf", op, as_text(wo.get("id")) or "unknown", HoldReason.PAYLOAD_ERROR,
                      "work order has no valid id")
            return
        source_id = str(wo_id)
        if not self.first_time(f"work_order:{source_id}", "sf", op, source_id):
            return
        if candidate.stamp_problem:
            self.hold("sf", op, source_id, HoldReason.STAMP_CONFLICT, candidate.stamp_problem)
            return
        status = as_text(wo.get("status"))
        if not in_open_list(status, self.flags.pw_open_statuses):
            self.hold("sf", op, source_id, HoldReason.STATUS_NOT_OPEN, f"status {status!r} is not in the open list")
            return
        if not candidate.routing_ok:
            self.hold("sf", op, source_id, HoldReason.UNIT_ROUTING, candidate.routing_reason or "unit rule flagged")
            return
        try:
            sf_status = rules.sf_status_for_pw(status)
        except UnmappedStatusError as exc:
            self.hold("sf", op, source_id, HoldReason.UNMAPPED_STATUS, str(exc))
            return
        customer = candidate.customer
        if customer is None:
            customer, waits = self.created_customer(candidate.portfolio_id)
            if waits is not None:
                self.hold("sf", op, source_id, HoldReason.AWAITING_CUSTOMER, waits)
                return
        if customer is None:
            self.hold("sf", op, source_id, HoldReason.UNMAPPED_CUSTOMER,
                      f"no SF customer mapped for portfolio {wo.get('portfolioID')} / building {wo.get('buildingID')}")
            return
        try:
            body = build_job_body(wo, customer, candidate.unit, candidate.building, sf_status, candidate.sf_category)
        except PayloadError as exc:
            self.hold("sf", op, source_id, HoldReason.PAYLOAD_ERROR, str(exc))
            return
        if self.flags.safe_mode and (problems := _safe_mode_problems(body)):
            self.hold("sf", op, source_id, HoldReason.SAFE_MODE_VALIDATION, "; ".join(problems))
            return
        write = PlannedWrite.of("sf", op, source_id, body)
        entry = self.ledger.get(write.idempotency_key)
        if entry is not None and entry.state is LedgerState.DONE and (changes := job_changes(entry.payload, body)):
            self.add(PlannedWrite.of("sf", "attention", source_id, {
                "work_order_id": wo_id, "sf_job_id": entry.target_id, "changes": changes,
                "reason": "work order changed after its SF job was created; SF jobs cannot be updated by API",
            }))
            return
        if entry is None or entry.state is LedgerState.PLANNED:
            decision = detect_duplicate(wo, candidate.sf_jobs, customer_id=as_int(body["customer_name"]),
                                        address=body, params=fuzzy)
            self.decisions.append((source_id, decision))
            if decision.is_duplicate:
                self.hold("sf", op, source_id, HoldReason.DUPLICATE, decision.reason)
                return
        self.add(write)

    def add_progress(self, candidate: ProgressCandidate, rules: StatusRules) -> None:
        wo_id = as_int(candidate.work_order.get("id"))
        source_id = str(wo_id) if wo_id is not None else "unknown"
        if candidate.link_problem:
            self.hold("pw", "update_work_order", source_id, HoldReason.STAMP_CONFLICT, candidate.link_problem)
            return
        try:
            pw_writes = [build_pw_update(candidate.sf_job, candidate.work_order,
                                         category=candidate.status_category, rules=rules),
                         build_pw_note(candidate.sf_job, candidate.work_order)]
        except UnmappedStatusError as exc:
            self.hold("pw", "update_work_order", source_id, HoldReason.UNMAPPED_STATUS, str(exc))
            return
        except PayloadError as exc:
            self.hold("pw", "update_work_order", source_id, HoldReason.PAYLOAD_ERROR, str(exc))
            return
        for pw_write in pw_writes:
            if not isinstance(pw_write, PwWrite):
                continue
            payload = pw_write.payload
            if pw_write.operation in LATEST_WINS_OPERATIONS and candidate.sf_version is not None:
                payload = {**payload, SF_VERSION_FIELD: candidate.sf_version}
            if pw_write.operation != "attention":
                route = route_write(pw_write.operation, self.pw_apis, candidate.work_order)
                if route.api is None:
                    self.hold("pw", pw_write.operation, source_id, HoldReason.PW_API_UNAVAILABLE, route.reason)
                    continue
            self.add(PlannedWrite.of("pw", pw_write.operation, source_id, payload))


def _safe_mode_problems(body: Mapping[str, Any]) -> list[str]:
    """Extra checks of safe mode: what a technician needs to act on the job without calling back."""
    problems = []
    if not isinstance(body.get("customer_name"), int):
        problems.append("customer given by name, not id")
    if not body.get("description"):
        problems.append("no description")
    if not body.get("postal_code") and not body.get("city"):
        problems.append("no city or postal code")
    return problems


def _created_order(candidate: WorkOrderCandidate) -> tuple[float, int]:
    created = as_timestamp(candidate.work_order.get("createdDateTime"))
    wo_id = as_int(candidate.work_order.get("id"))
    return (created.timestamp() if created else float("inf"), wo_id if wo_id is not None else -1)


def build_push_plan(
    flags: SyncFlags,
    *,
    work_orders: Iterable[WorkOrderCandidate] = (),
    customers: Iterable[CustomerCandidate] = (),
    progress: Iterable[ProgressCandidate] = (),
    ledger: Mapping[str, LedgerEntry] | None = None,
    rules: StatusRules = DEFAULT_STATUS_RULES,
    fuzzy: FuzzyParams = DEFAULT_FUZZY_PARAMS,
    run_creates: int = 0,
    pw_apis: PwApis = SOAP_ONLY,
) -> PushPlan:
    """The ordered plan for one run. ``ledger`` maps idempotency keys to existing ledger rows,
    including the portfolio customer creates the candidates may wait on.

    ``run_creates``: creates this run has already sent or queued before this plan (a follow-up
    plan within the run, `outbox.planning`); they count against the safe-mode cap, which is per run.
    ``pw_apis``: the PropertyWare APIs configured, which decide the PW writes that can be made.
    """
    planner = _Planner(flags, ledger or {}, run_creates, pw_apis)
    for customer in sorted(customers, key=lambda c: c.kind != "portfolio"):
        planner.add_customer(customer)
    for candidate in sorted(work_orders, key=_created_order):
        planner.add_work_order(candidate, rules, fuzzy)
    for item in sorted(progress, key=lambda p: as_int(p.work_order.get("id")) or 0):
        planner.add_progress(item, rules)
    return PushPlan(flags, tuple(planner.writes), tuple(planner.held), tuple(planner.decisions))
