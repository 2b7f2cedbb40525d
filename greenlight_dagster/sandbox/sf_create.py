"""``POST /customers`` and ``POST /jobs`` of the ServiceFusion sandbox (docs/apis/servicefusion.md §6.2, §6.3, §7.8).

The push step's correctness depends on these semantics, so they are modelled rather than
waved through: every validation problem of a body is collected and answered at once as a 422
*array* of ``{field, message}``; reference fields (customer, status, category, technician,
parent customer, location contact) resolve by id **or** name; a job's contact name reuses the
customer's matching contact instead of duplicating it; ``is_primary`` demotes the previous
primary; the job gets a string ``number``. Nothing is stored unless the whole body is valid.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

from greenlight_dagster.core.fields import as_int
from greenlight_dagster.sandbox.sf_errors import Unprocessable
from greenlight_dagster.sandbox.state import SandboxState

SF = "servicefusion"
#: Fields a client may send but the server owns.
_SERVER_OWNED = ("id", "created_at", "updated_at")
_CUSTOMER_NESTED = ("contacts", "locations", "custom_fields")
_JOB_NESTED = ("custom_fields", "techs_assigned", "notes")
_JOB_SERVER_OWNED = (*_SERVER_OWNED, "number", "customer_id", "closed_at")
Table = Mapping[int, dict[str, Any]]
#: Lower-cased name -> ids of the records that carry it.
Names = Mapping[Hashable, set[int]]


class _Errors:
    """The 422 answer being built: every problem of the body, not just the first."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            raise Unprocessable(self.items)


def _text(value: object) -> str:
    return "" if value is None or isinstance(value, bool) else str(value).strip()


def _required_text(body: Mapping[str, Any], name: str, errors: _Errors, prefix: str = "") -> str:
    value = body.get(name)
    if value is not None and not isinstance(value, str | int):
        errors.add(prefix + name, f"{name} must be a string.")
        return ""
    text = _text(value)
    if not text:
        errors.add(prefix + name, f"{name} cannot be blank.")
    return text


def _optional_text(body: Mapping[str, Any], name: str, errors: _Errors) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        errors.add(name, f"{name} must be a string.")
        return None
    return str(value)


def _objects(raw: object, path: str, errors: _Errors) -> list[dict[str, Any]]:
    """A nested list of objects (absent = empty); anything else is a 422 on ``path``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.add(path, f"{path} must be an array of objects.")
        return []
    items = []
    for i, item in enumerate(raw):
        if isinstance(item, dict):
            items.append(dict(item))
        else:
            errors.add(f"{path}[{i}]", "must be an object.")
    return items


def _required_items(raw: object, path: str, required: tuple[str, ...], errors: _Errors) -> list[dict[str, Any]]:
    """Nested objects that each must carry every field in ``required``."""
    items = _objects(raw, path, errors)
    for i, item in enumerate(items):
        for name in required:
            if item.get(name) is None or _text(item.get(name)) == "":
                errors.add(f"{path}[{i}].{name}", f"{name} cannot be blank.")
    return items


def resolve(table: Table, value: object, names: Names) -> dict[str, Any] | None:
    """A referenced record by id, else by name (``names``: see `name_index`; the lowest id wins a tie)."""
    ident = as_int(value)
    if ident is not None and ident in table:
        return table[ident]
    holders = names.get(_text(value).lower())
    return table[min(holders)] if holders else None


def _lowered(*fields: str) -> Callable[[Mapping[str, Any]], Iterator[str]]:
    return lambda record: (text for f in fields if (text := _text(record.get(f)).lower()))


def name_index(table: Table, *fields: str) -> Names:
    """Lower-cased name (any of ``fields``) -> ids, for a small table built on the fly."""
    names: dict[Hashable, set[int]] = {}
    lowered = _lowered(*fields)
    for record_id, record in table.items():
        for name in lowered(record):
            names.setdefault(name, set()).add(record_id)
    return names


def _state_names(state: SandboxState, entity: str, *fields: str) -> Names:
    """`name_index` of a sandbox table, kept current by the state instead of rebuilt per request."""
    return state.index(SF, entity, "names:" + ",".join(fields), _lowered(*fields))


def _reference(body: Mapping[str, Any], name: str, state: SandboxState, entity: str, name_fields: tuple[str, ...],
               errors: _Errors) -> dict[str, Any] | None:
    """An optional reference field to a record of ``entity``; given but unresolvable is a 422."""
    value = body.get(name)
    if value is None or value == "":
        return None
    found = resolve(state.table(SF, entity), value, _state_names(state, entity, *name_fields))
    if found is None:
        errors.add(name, f"{name} {value!r} does not exist.")
    return found


def _append_primary(items: list[dict[str, Any]], item: dict[str, Any]) -> None:
    """Add a contact/location; ``is_primary: true`` demotes the previous primary."""
    item["is_primary"] = bool(item.get("is_primary"))
    if item["is_primary"]:
        for other in items:
            other["is_primary"] = False
    items.append(item)


def _highest_nested_id(key: str) -> Callable[[dict[str, Any]], int]:
    return lambda record: max((as_int(item.get("id")) or 0 for item in record.get(key) or []
                               if isinstance(item, Mapping)), default=0)


def _nested_ids(state: SandboxState, entity: str, key: str) -> Iterator[int]:
    """Fresh ids for nested objects (contacts, notes...) unique across the whole table, never reused."""
    return itertools.count(state.high_water(SF, entity, f"{key} ids", _highest_nested_id(key)) + 1)


def _stamp(items: list[dict[str, Any]], stamp: str) -> None:
    for item in items:
        item["created_at"] = item["updated_at"] = stamp
        for key in ("phones", "emails"):
            _stamp(item.get(key) or [], stamp)


def _custom_fields(raw: object, errors: _Errors) -> list[dict[str, Any]]:
    return [{"name": f["name"], "value": f["value"], "type": f.get("type", "text"), "group": f.get("group"),
             "is_required": bool(f.get("is_required"))}
            for f in _required_items(raw, "custom_fields", ("name", "value"), errors)]


def _contact(item: dict[str, Any], path: str, errors: _Errors) -> dict[str, Any]:
    for name in ("fname", "lname"):
        _required_text(item, name, errors, f"{path}.")
    phones = _required_items(item.get("phones"), f"{path}.phones", ("phone",), errors)
    for phone in phones:
        phone["is_mobile"] = _text(phone.get("type")).lower() == "mobile"
    emails = _required_items(item.get("emails"), f"{path}.emails", ("email",), errors)
    return {**item, "phones": phones, "emails": emails}


def _contacts(raw: object, ids: Iterator[int], errors: _Errors) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = []
    for i, item in enumerate(_objects(raw, "contacts", errors)):
        _append_primary(contacts, {**_contact(item, f"contacts[{i}]", errors), "id": next(ids)})
    return contacts


def _full_name(contact: Mapping[str, Any]) -> str:
    return f"{_text(contact.get('fname'))} {_text(contact.get('lname'))}".strip()


def _locations(raw: object, contacts: list[dict[str, Any]], ids: Iterator[int],
               errors: _Errors) -> list[dict[str, Any]]:
    by_id = {c["id"]: {**c, "full_name": _full_name(c)} for c in contacts}
    locations: list[dict[str, Any]] = []
    for i, item in enumerate(_required_items(raw, "locations", ("street_1",), errors)):
        if item.get("customer_contact") not in (None, ""):
            contact = resolve(by_id, item["customer_contact"], name_index(by_id, "full_name"))
            if contact is None:
                errors.add(f"locations[{i}].customer_contact", "customer_contact does not match a contact.")
            else:
                item["customer_contact"] = contact["full_name"]
        _append_primary(locations, {**item, "id": next(ids)})
    return locations


def create_customer(state: SandboxState, body: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and store a customer with its inline contacts, locations and custom fields."""
    errors = _Errors()
    with state.lock:
        name = _required_text(body, "customer_name", errors)
        parent = _reference(body, "parent_customer", state, "customers", ("customer_name",), errors)
        contacts = _contacts(body.get("contacts"), _nested_ids(state, "customers", "contacts"), errors)
        locations = _locations(body.get("locations"), contacts, _nested_ids(state, "customers", "locations"), errors)
        custom_fields = _custom_fields(body.get("custom_fields"), errors)
        errors.raise_if_any()
        record = {k: v for k, v in body.items() if k not in (*_SERVER_OWNED, *_CUSTOMER_NESTED)}
        parent_name = parent["customer_name"] if parent else None
        record.update(customer_name=name, parent_customer=parent_name,
                      fully_qualified_name=f"{parent_name}:{name}" if parent_name else name,
                      contacts=contacts, locations=locations, custom_fields=custom_fields)
        stored = state.upsert(SF, "customers", record)
        _stamp(contacts + locations + custom_fields, stored["updated_at"])
        return stored


def _techs(raw: object, techs: Table, errors: _Errors) -> list[dict[str, Any]]:
    """``techs_assigned[]``: each ``{id}`` or ``{first_name, last_name}`` of an existing tech."""
    by_name = {k: {**t, "full_name": f"{_text(t.get('first_name'))} {_text(t.get('last_name'))}"}
               for k, t in techs.items()}
    names = name_index(by_name, "full_name")
    assigned = []
    for i, item in enumerate(_objects(raw, "techs_assigned", errors)):
        full = f"{_text(item.get('first_name'))} {_text(item.get('last_name'))}".strip()
        tech = resolve(by_name, item.get("id") if item.get("id") is not None else full, names)
        if tech is None:
            errors.add(f"techs_assigned[{i}]", "Technician does not exist.")
            continue
        assigned.append({"id": tech["id"], "first_name": tech.get("first_name"), "last_name": tech.get("last_name")})
    return assigned


def _reuse_contact(state: SandboxState, customer: dict[str, Any], first: str | None, last: str | None) -> None:
    """A job's contact name becomes a customer contact unless one with that name exists."""
    if not first or not last:
        return
    contacts = [c for c in customer.get("contacts") or [] if isinstance(c, dict)]
    wanted = f"{first} {last}".strip().lower()
    if any(_full_name(c).lower() == wanted for c in contacts):
        return
    contact = {"id": next(_nested_ids(state, "customers", "contacts")), "fname": first, "lname": last,
               "is_primary": not contacts, "phones": [], "emails": []}
    stored = state.patch(SF, "customers", customer["id"], {"contacts": [*contacts, contact]})
    _stamp([contact], stored["updated_at"])


def _job_number(job: dict[str, Any]) -> int:
    return as_int(job.get("number")) or 0


def _next_number(state: SandboxState) -> str:
    return str(state.high_water(SF, "jobs", "number", _job_number) + 1)


def create_job(state: SandboxState, body: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and store a job; the customer, status, category and techs must all resolve."""
    errors = _Errors()
    with state.lock:
        statuses = state.table(SF, "job_statuses")
        customer = None
        if _required_text(body, "customer_name", errors):
            customer = _reference(body, "customer_name", state, "customers", ("customer_name",), errors)
        default_status = statuses.get(min(statuses, default=0))
        status = _reference(body, "status", state, "job_statuses", ("name", "code"), errors) or default_status
        category = _reference(body, "category", state, "job_categories", ("name",), errors)
        techs = _techs(body.get("techs_assigned"), state.table(SF, "techs"), errors)
        notes = _required_items(body.get("notes"), "notes", ("notes",), errors)
        custom_fields = _custom_fields(body.get("custom_fields"), errors)
        po_number, check_number, first, last = (
            _optional_text(body, name, errors)
            for name in ("po_number", "check_number", "contact_first_name", "contact_last_name"))
        errors.raise_if_any()
        assert customer is not None  # a blank or unresolvable customer_name was a 422 above
        _reuse_contact(state, customer, first, last)
        ids = _nested_ids(state, "jobs", "notes")
        record = {k: v for k, v in body.items() if k not in (*_JOB_SERVER_OWNED, *_JOB_NESTED)}
        record.update(
            number=_next_number(state), customer_id=customer["id"], customer_name=customer["customer_name"],
            parent_customer=customer.get("parent_customer"), status=status["name"] if status else None,
            category=category["name"] if category else None, po_number=po_number, check_number=check_number,
            closed_at=None, custom_fields=custom_fields, techs_assigned=techs,
            notes=[{"id": next(ids), "notes": n["notes"]} for n in notes],
        )
        stored = state.upsert(SF, "jobs", record)
        _stamp(stored["custom_fields"] + stored["notes"], stored["updated_at"])
        return stored
