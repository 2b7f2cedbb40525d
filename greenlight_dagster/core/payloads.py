"""Request bodies for the writes: SF job and customer creates, PW work order updates.

Bodies are built here, validated before they are planned, and hashed into the ledger, so they
must be deterministic (no clocks, no volatile fields). A missing customer or address is a
`PayloadError` naming the field - the work order is held back with that reason - instead of a
422 from SF after the write was already queued.

Decisions:

* ``customer_name`` carries the SF customer **id** when known (SF resolves an id or a name;
  an id cannot hit the wrong one of two same-named customers).
* Priority: PW ``HIGH``/``MEDIUM``/``LOW`` -> SF ``High``/``Normal``/``Low`` (`PRIORITY_TO_SF`);
  an unknown PW value is left out (SF applies its default) rather than guessed.
* Location: the unit's own address when it has one, else the building's; the unit name goes
  in ``street_2`` so a technician knows which door.
* The work order is stamped three ways: ``po_number`` = ``PW-<id>`` (filterable on SF),
  ``check_number`` = the WO number users see, and the ``PW Work Order ID`` custom field.
* Free text (job description, PW note, closing comments) is cleaned and capped here, once
  (`core.text.clean_text`, `MAX_TEXT_LENGTH`): a control character a technician pasted would
  fail the PW write on every attempt, and text longer than the target keeps would never equal
  what the note lookup reads back. The ledger holds the cleaned text, so a lookup and a replay
  use exactly what was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from greenlight_dagster.core.fields import as_int, as_text, as_timestamp
from greenlight_dagster.core.idempotency import CROSS_SYSTEM_FIELD, cross_system_id
from greenlight_dagster.core.statuses import (
    DEFAULT_STATUS_RULES,
    PwAction,
    StatusRules,
    normalize_status,
)
from greenlight_dagster.core.text import clean_text, normalize_text

PRIORITY_TO_SF = {"high": "High", "medium": "Normal", "low": "Low"}
CUSTOMER_ID_FIELDS = {"portfolio": "PW Portfolio ID", "tenant": "PW Tenant ID"}
_PHONE_FIELDS = (("mobilePhone", "Mobile"), ("homePhone", "Home"), ("workPhone", "Work"))
#: The longest free text sent. Neither API documents a limit; 4,000 characters is the common
#: storage bound (NVARCHAR(4000)), far beyond any note a technician types.
MAX_TEXT_LENGTH = 4000


def _free_text(value: object) -> str:
    return clean_text(as_text(value), MAX_TEXT_LENGTH)


class PayloadError(ValueError):
    """A body cannot be built; ``field`` names the SF field that would be missing or wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def resolve_reference(name: str | None, available: Iterable[str]) -> str | None:
    """The account's spelling of a reference name (category, status...), or None if it has none.

    SF answers 422 to an unknown category name, so a PW category is sent only when the account
    has a category of that name (compared case/punctuation-insensitively).
    """
    key = normalize_text(name or "")
    return next((candidate for candidate in available if key and normalize_text(candidate) == key), None)


def _address_of(record: Mapping[str, Any] | None) -> Mapping[str, Any]:
    address = record.get("address") if record is not None else None
    return address if isinstance(address, Mapping) else {}


def location_fields(unit: Mapping[str, Any] | None, building: Mapping[str, Any] | None) -> dict[str, str]:
    """SF location fields (``street_1``... ``postal_code``) of the unit, else of the building.

    Used inline on a job and as a customer location; SF requires ``street_1`` in both.
    """
    own = _address_of(unit)
    source = own if as_text(own.get("address")) else _address_of(building)
    street = as_text(source.get("address"))
    if not street:
        where = f"unit {unit.get('id')}" if unit is not None else f"building {(building or {}).get('id')}"
        raise PayloadError("street_1", f"no street address for {where}")
    line2 = as_text(source.get("addressCont"))
    if unit is not None and source is not own:
        line2 = ", ".join(part for part in (line2, as_text(unit.get("name"))) if part)
    fields = {
        "street_1": street, "street_2": line2, "city": as_text(source.get("city")),
        "state_prov": as_text(source.get("stateRegion")), "postal_code": as_text(source.get("postalCode")),
    }
    return {name: value for name, value in fields.items() if value}


def build_job_body(
    work_order: Mapping[str, Any],
    customer: Mapping[str, Any] | None,
    unit: Mapping[str, Any] | None,
    building: Mapping[str, Any] | None,
    status_name: str,
    category: str | None,
) -> dict[str, Any]:
    """The ``POST /jobs`` body for a PW work order (decisions in the module docstring).

    ``status_name`` comes from the status rules and ``category`` is an SF job category name
    already resolved against the account (`resolve_reference`), or None to leave it out.
    """
    wo_id = as_int(work_order.get("id"))
    if wo_id is None or wo_id <= 0:
        raise PayloadError("po_number", f"work order has no valid id: {work_order.get('id')!r}")
    customer_ref: int | str | None = None
    if customer is not None:
        customer_ref = as_int(customer.get("id")) or as_text(customer.get("customer_name")) or None
    if customer_ref is None:
        raise PayloadError("customer_name", f"work order {wo_id} has no mapped ServiceFusion customer")
    if not status_name.strip():
        raise PayloadError("status", f"work order {wo_id} has no ServiceFusion status")

    body: dict[str, Any] = {
        "customer_name": customer_ref,
        "po_number": cross_system_id(wo_id),
        "status": status_name.strip(),
        **location_fields(unit, building),
        "custom_fields": [{"name": CROSS_SYSTEM_FIELD, "value": str(wo_id)}],
    }
    number = as_int(work_order.get("number"))
    if number is not None:
        body["check_number"] = str(number)
    description = _free_text(work_order.get("description"))
    if description:
        body["description"] = description
    priority = PRIORITY_TO_SF.get(normalize_text(as_text(work_order.get("priority"))))
    if priority:
        body["priority"] = priority
    if category:
        body["category"] = category
    return body


def contact_body(contact: Mapping[str, Any], *, is_primary: bool = False, path: str = "contacts[0]") -> dict[str, Any]:
    """An SF customer contact from a PW contact; SF requires both ``fname`` and ``lname``."""
    body: dict[str, Any] = {"fname": as_text(contact.get("firstName")), "lname": as_text(contact.get("lastName"))}
    for name in ("fname", "lname"):
        if not body[name]:
            raise PayloadError(f"{path}.{name}", f"PW contact {contact.get('id')} has no {name}")
    email = as_text(contact.get("email"))
    if email:
        body["emails"] = [{"email": email}]
    phones = [{"phone": as_text(contact.get(key)), "type": kind} for key, kind in _PHONE_FIELDS if contact.get(key)]
    if phones:
        body["phones"] = phones
    if is_primary:
        body["is_primary"] = True
    return body


def _customer_name(kind: str, record: Mapping[str, Any]) -> str:
    if kind == "portfolio":
        return as_text(record.get("name"))
    company = as_text(record.get("company"))
    person = " ".join(p for p in (as_text(record.get("firstName")), as_text(record.get("lastName"))) if p)
    return company or person


def build_customer_body(
    kind: Literal["portfolio", "tenant"],
    record: Mapping[str, Any],
    *,
    parent_customer: int | str | None = None,
    contacts: Sequence[Mapping[str, Any]] = (),
    locations: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """``POST /customers`` body: a portfolio becomes a parent customer, a lease tenant (a PW
    contact) a child of its portfolio's customer. ``contacts`` are PW contacts; ``locations``
    are `location_fields` results. The first contact and location are primary."""
    if kind not in CUSTOMER_ID_FIELDS:
        raise PayloadError("customer_name", f"unknown customer kind {kind!r}")
    name = _customer_name(kind, record)
    if not name:
        raise PayloadError("customer_name", f"PW {kind} {record.get('id')} has no name")
    if kind == "tenant" and parent_customer in (None, ""):
        raise PayloadError("parent_customer", f"tenant {record.get('id')} has no parent (portfolio) customer")
    body: dict[str, Any] = {
        "customer_name": name,
        "custom_fields": [{"name": CUSTOMER_ID_FIELDS[kind], "value": as_text(record.get("id"))}],
    }
    if parent_customer not in (None, ""):
        body["parent_customer"] = parent_customer
    if contacts:
        body["contacts"] = [
            contact_body(c, is_primary=i == 0, path=f"contacts[{i}]") for i, c in enumerate(contacts)
        ]
    if locations:
        for i, location in enumerate(locations):
            if not as_text(location.get("street_1")):
                raise PayloadError(f"locations[{i}].street_1", f"PW {kind} {record.get('id')}: location has no street")
        body["locations"] = [{**loc, "is_primary": i == 0} for i, loc in enumerate(locations)]
    return body


@dataclass(frozen=True)
class PwWrite:
    """A write to PropertyWare: the operation and its (deterministic) payload."""

    operation: str  # update_work_order | close_work_order | attach_note | attention
    payload: dict[str, Any]


def _job_label(sf_job: Mapping[str, Any]) -> str:
    return f"ServiceFusion job {as_text(sf_job.get('number')) or as_text(sf_job.get('id'))}"


def build_pw_update(
    sf_job: Mapping[str, Any],
    work_order: Mapping[str, Any],
    *,
    category: str | None = None,
    rules: StatusRules = DEFAULT_STATUS_RULES,
) -> PwWrite | None:
    """What the PW work order needs now that its SF job is in its current status, or None.

    ``category`` is the SF category of the job's status (from ``/job-statuses``). Nothing is
    written to a work order that is already terminal in PW or already in the target status;
    the payload holds no volatile fields, so the same SF state always hashes to the same key.
    """
    wo_id = as_int(work_order.get("id"))
    if wo_id is None:
        raise PayloadError("workOrderID", f"work order has no valid id: {work_order.get('id')!r}")
    sf_status = as_text(sf_job.get("status"))
    update = rules.pw_update_for_sf(sf_status, category)
    pw_status = as_text(work_order.get("status"))
    if update is None or rules.is_pw_terminal(pw_status):
        return None
    label = _job_label(sf_job)
    if update.action is PwAction.UPDATE_STATUS:
        already = normalize_status(pw_status) == normalize_status(update.pw_status or "")
        if already or rules.echoes(pw_status, sf_status):
            return None
        return PwWrite("update_work_order", {"workOrderID": wo_id, "status": update.pw_status})
    if update.action is PwAction.CLOSE:
        notes = as_text(sf_job.get("completion_notes"))
        comments = _free_text(f"{label} {sf_status} in ServiceFusion." + (f" {notes}" if notes else ""))
        payload: dict[str, Any] = {"workOrderID": wo_id, "category": as_text(work_order.get("category")),
                                   "closingComments": comments}
        completed = next((ts for key in ("closed_at", "end_date", "updated_at")
                          if (ts := as_timestamp(sf_job.get(key))) is not None), None)
        if completed is not None:
            payload["completedDate"] = completed.date().isoformat()
        return PwWrite("close_work_order", payload)
    return PwWrite("attention", {"workOrderID": wo_id, "reason": f"{label} is {sf_status}: decide in PropertyWare"})


def build_pw_note(sf_job: Mapping[str, Any], work_order: Mapping[str, Any]) -> PwWrite | None:
    """Technician notes of an SF job as a PW work order note; each distinct text is sent once."""
    wo_id = as_int(work_order.get("id"))
    notes = _free_text(sf_job.get("tech_notes"))
    if wo_id is None or not notes:
        return None
    return PwWrite("attach_note", {"workOrderID": wo_id,
                                   "note": _free_text(f"{_job_label(sf_job)} technician notes: {notes}")})
