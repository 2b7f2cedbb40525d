"""Duplicate detection before a create: is there already an SF job for this PW work order?

Criteria, in order (the first that fires decides; each decision is logged with its score):

1. **ledger** - our own outbox already has this create beyond ``planned`` (done, in flight,
   dead or under attention): the ledger path owns it, never a second create.
2. **cross_system_id** - an SF job stamped with this work order: ``po_number`` ``PW-9000`` or
   the ``PW Work Order ID`` custom field (`core.idempotency`), or, on a job of the same customer
   only, ``check_number`` equal to the WO number (``1001`` / ``WO-1001``) or a bare ``po_number``
   equal to the work order id. A bare number never links a job (decision 0012), but on the same
   customer's job it may be an older system's stamp: the create is held for a person to decide
   rather than risk a second job.
3. **fuzzy** - a job created outside the sync (by hand in SF): same customer *or* same street
   address, description similarity >= ``description_threshold``, and created within
   ``window`` of the work order. Jobs stamped with a *different* work order are never fuzzy
   matches, and a job without a creation time cannot satisfy the window.

`near_duplicate_work_orders` applies the same idea on the PW side: two work orders on one unit
with similar descriptions a few hours apart are usually one problem reported twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from greenlight_dagster.core.fields import as_int, as_items, as_text, as_timestamp
from greenlight_dagster.core.idempotency import CROSS_SYSTEM_FIELD, parse_cross_system_id, parse_stamp_field
from greenlight_dagster.core.ledger import LedgerEntry, LedgerState
from greenlight_dagster.core.matching import address_key
from greenlight_dagster.core.text import normalize_text, similarity

DEFAULT_DESCRIPTION_THRESHOLD = 0.85
DEFAULT_WINDOW = timedelta(hours=72)
DEFAULT_NEAR_DUPLICATE_WINDOW = timedelta(hours=24)

_FIELD_KEY = normalize_text(CROSS_SYSTEM_FIELD)
_CHECK_NUMBER = re.compile(r"^\s*(?:wo\s*[-#:]?\s*)?([0-9]{1,18})\s*$", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\s*([0-9]{1,18})\s*$")


@dataclass(frozen=True)
class FuzzyParams:
    description_threshold: float = DEFAULT_DESCRIPTION_THRESHOLD
    window: timedelta = DEFAULT_WINDOW


DEFAULT_FUZZY_PARAMS = FuzzyParams()

@dataclass(frozen=True)
class DuplicateDecision:
    """One dedup decision; `as_log_row` gives the ``ops.duplicate_detection_log`` columns."""

    is_duplicate: bool
    criterion: str  # ledger | cross_system_id | fuzzy
    score: float | None
    candidate_id: str | None
    reason: str

    def as_log_row(self, target: str, source_id: int | str, run_id: str | None = None) -> dict[str, Any]:
        return {
            "run_id": run_id, "target": target, "source_id": str(source_id), "candidate_id": self.candidate_id,
            "criterion": self.criterion, "score": self.score,
            "decision": "duplicate" if self.is_duplicate else "distinct", "reason": self.reason,
        }


def stamped_work_order_ids(job: Mapping[str, Any]) -> set[int]:
    """PW work order ids an SF job is stamped with (``po_number`` and the custom field); more than
    one means its stamps conflict."""
    stamped = {parse_cross_system_id(job.get("po_number"))}
    stamped |= {
        parse_stamp_field(field.get("value")) for field in as_items(job.get("custom_fields"))
        if isinstance(field, Mapping) and normalize_text(as_text(field.get("name"))) == _FIELD_KEY
    }
    return {wo_id for wo_id in stamped if wo_id is not None}



def _number_matches(pattern: re.Pattern[str], value: object, number: int | None) -> bool:
    match = pattern.match(as_text(value))
    return number is not None and match is not None and int(match.group(1)) == number


def _within(a: datetime | None, b: datetime | None, window: timedelta) -> bool:
    return a is not None and b is not None and abs(a - b) <= window


def detect_duplicate(
    work_order: Mapping[str, Any],
    candidates: Iterable[Mapping[str, Any]],
    *,
    ledger_entry: LedgerEntry | None = None,
    customer_id: int | None = None,
    address: Mapping[str, Any] | str | None = None,
    params: FuzzyParams = DEFAULT_FUZZY_PARAMS,
) -> DuplicateDecision:
    """Decide whether creating a job for ``work_order`` would duplicate one (module docstring).

    ``candidates`` are SF jobs of the work order's customer and/or address; ``customer_id`` is
    the mapped SF customer and ``address`` the work order's location (PW or SF field names).
    """
    wo_id = as_int(work_order.get("id"))
    if ledger_entry is not None and ledger_entry.state is not LedgerState.PLANNED:
        return DuplicateDecision(True, "ledger", 1.0, ledger_entry.target_id,
                                 f"ledger entry {ledger_entry.idempotency_key} is {ledger_entry.state.value}")

    jobs = [job for job in candidates if as_int(job.get("id")) is not None]
    number = as_int(work_order.get("number"))
    for job in jobs:
        job_id = as_text(job.get("id"))
        if wo_id is not None and wo_id in stamped_work_order_ids(job):
            return DuplicateDecision(True, "cross_system_id", 1.0, job_id,
                                     f"SF job {job_id} is stamped with work order {wo_id}")
        if customer_id is None or as_int(job.get("customer_id")) != customer_id:
            continue
        if _number_matches(_CHECK_NUMBER, job.get("check_number"), number):
            return DuplicateDecision(True, "cross_system_id", 1.0, job_id,
                                     f"SF job {job_id} of customer {customer_id} has check_number {number}")
        if _number_matches(_BARE_NUMBER, job.get("po_number"), wo_id):
            return DuplicateDecision(True, "cross_system_id", 1.0, job_id,
                                     f"SF job {job_id} of customer {customer_id} has po_number {wo_id}, this work "
                                     f"order's id without our PW- stamp: if it is this work order's job, stamp it "
                                     f"PW-{wo_id}; if not, change its po_number")

    wanted = address_key(address)
    created = as_timestamp(work_order.get("createdDateTime"))
    description = as_text(work_order.get("description"))
    best: tuple[float, str] | None = None
    for job in jobs:
        if stamped_work_order_ids(job):
            continue  # stamped with another work order: a different job by construction
        same_customer = customer_id is not None and as_int(job.get("customer_id")) == customer_id
        job_address = address_key(job)
        same_address = wanted is not None and job_address is not None and wanted.matches(job_address)
        if not (same_customer or same_address):
            continue
        score = round(similarity(description, as_text(job.get("description"))), 4)
        job_id = as_text(job.get("id"))
        if score >= params.description_threshold and _within(created, as_timestamp(job.get("created_at")),
                                                             params.window):
            return DuplicateDecision(
                True, "fuzzy", score, job_id,
                f"SF job {job_id}: same {'customer' if same_customer else 'address'}, description similarity "
                f"{score:.2f}, created within {params.window}",
            )
        if best is None or score > best[0]:
            best = (score, job_id)
    if best is None:
        return DuplicateDecision(False, "fuzzy", None, None, "no SF job for this customer or address")
    return DuplicateDecision(False, "fuzzy", best[0], best[1],
                             f"closest SF job {best[1]} scores {best[0]:.2f} or is outside {params.window}")


@dataclass(frozen=True)
class NearDuplicate:
    work_order_id: int
    duplicate_of: int
    score: float
    reason: str


def near_duplicate_work_orders(
    work_orders: Iterable[Mapping[str, Any]],
    *,
    threshold: float = DEFAULT_DESCRIPTION_THRESHOLD,
    window: timedelta = DEFAULT_NEAR_DUPLICATE_WINDOW,
) -> list[NearDuplicate]:
    """PW work orders that repeat an earlier one: same building and unit, similar description,
    created within ``window``. Each is reported once, against the earliest work order it repeats."""
    groups: dict[tuple[int | None, int | None], list[tuple[datetime, int, str]]] = {}
    for wo in work_orders:
        wo_id, created = as_int(wo.get("id")), as_timestamp(wo.get("createdDateTime"))
        if wo_id is None or created is None:
            continue
        place = (as_int(wo.get("buildingID")), as_int(wo.get("unitID")))
        groups.setdefault(place, []).append((created, wo_id, as_text(wo.get("description"))))

    found: list[NearDuplicate] = []
    for (building_id, unit_id), members in groups.items():
        members.sort()
        for i, (created, wo_id, description) in enumerate(members):
            for earlier_created, earlier_id, earlier_description in members[:i]:
                if created - earlier_created > window:
                    continue
                score = round(similarity(description, earlier_description), 4)
                if score >= threshold:
                    where = f"unit {unit_id}" if unit_id is not None else f"building {building_id}"
                    found.append(NearDuplicate(
                        wo_id, earlier_id, score,
                        f"same {where}, description similarity {score:.2f}, {created - earlier_created} apart",
                    ))
                    break
    return sorted(found, key=lambda d: d.work_order_id)
