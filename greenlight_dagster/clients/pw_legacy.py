"""The legacy PWServices interface as data: operations, structs, XSD types, REST <-> legacy records.

Everything here is derived from one file shipped in the package,
``greenlight_dagster/contracts/propertyware-soap-signatures.json`` (every operation with its
parameters and return type, every struct with its fields and parent), plus the field mapping in
`pw_entities.LEGACY_FIELDS`. The sandbox generates its WSDL from it, the client builds requests
and decodes answers from it, so neither keeps a second copy of the vendor's interface.

Types: the signatures come from a PHP client generated from the WSDL, which spells every XSD
integer ``int``, every floating type ``float``, ``xsd:boolean`` ``bool`` and ``xsd:anyType``
``mixed``. Back in XSD, an integer named like an id (``ID``, ``…ID``, ``…Id``, ``ids``,
``…IDs``; the contract: ``PWObject.ID`` is a long, id arrays are ``xsd:long[]``) is
``xsd:long``, any other ``xsd:int``; floats are ``xsd:double``. Pure functions, no I/O beyond
reading the packaged file once.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from greenlight_dagster.clients.pw_entities import (
    ADDRESS_FIELDS,
    LEGACY_DATE,
    LEGACY_DATETIME,
    LEGACY_FIELDS,
    LegacyField,
)

#: The XSD builtins the interface uses (local names in the XSD namespace).
XSD_BUILTINS = frozenset({"string", "long", "int", "double", "boolean", "anyType"})
_PHP_TO_XSD = {"string": "string", "bool": "boolean", "boolean": "boolean", "float": "double", "mixed": "anyType",
               "anyType": "anyType"}
_ID_NAME = re.compile(r"(^ID$|ID$|Id$|^ids$|IDs$|Ids$)")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_LEGACY_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")


@dataclass(frozen=True)
class TypeRef:
    """A field's or parameter's type: an XSD builtin or a struct, maybe a soapenc array of it."""

    name: str  # "long", "string", ... or a struct name ("WorkOrder")
    array: bool = False

    @property
    def builtin(self) -> bool:
        return self.name in XSD_BUILTINS


@dataclass(frozen=True)
class Field:
    name: str
    type: TypeRef


@dataclass(frozen=True)
class Operation:
    name: str
    params: tuple[Field, ...]
    returns: TypeRef | None  # None: void


def _type(php: str, name: str) -> TypeRef:
    array = php.endswith("[]")
    base = php.removesuffix("[]")
    if base == "int":
        return TypeRef("long" if _ID_NAME.search(name) else "int", array)
    return TypeRef(_PHP_TO_XSD.get(base, base), array)


class Signatures:
    """The parsed signatures file: operations and structs with inherited fields resolved."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._structs: dict[str, dict[str, Any]] = document["structs"]
        self.operations: dict[str, Operation] = {
            name: Operation(name, tuple(Field(p["name"], _type(p["type"], p["name"])) for p in op["params"]),
                            None if op["returns"] == "void" else _type(op["returns"], "return"))
            for name, op in sorted(document["operations"].items())
        }
        self.struct_names: tuple[str, ...] = tuple(sorted(self._structs))
        self._fields: dict[str, tuple[Field, ...]] = {}
        self._by_name: dict[str, dict[str, tuple[int, Field]]] = {}

    def parent(self, struct: str) -> str | None:
        parent: str | None = self._structs[struct]["extends"]
        return parent

    def own_fields(self, struct: str) -> tuple[Field, ...]:
        """The struct's own fields (not its parent's), in the file's order."""
        return tuple(Field(f["name"], _type(f["type"], f["name"])) for f in self._structs[struct]["fields"])

    def fields(self, struct: str) -> tuple[Field, ...]:
        """Every field of the struct, its ancestors' first (``ID`` and ``clientData`` lead)."""
        if struct not in self._fields:
            parent = self.parent(struct)
            self._fields[struct] = (self.fields(parent) if parent else ()) + self.own_fields(struct)
        return self._fields[struct]

    def field_map(self, struct: str) -> dict[str, tuple[int, Field]]:
        """The struct's fields by name, with their declaration position (writers keep that order)."""
        if struct not in self._by_name:
            self._by_name[struct] = {f.name: (i, f) for i, f in enumerate(self.fields(struct))}
        return self._by_name[struct]

    def field(self, struct: str, name: str) -> Field | None:
        found = self.field_map(struct).get(name)
        return found[1] if found is not None else None

    def is_struct(self, name: str) -> bool:
        return name in self._structs

    def is_a(self, struct: str, ancestor: str) -> bool:
        """Whether ``struct`` is ``ancestor`` or derives from it."""
        current: str | None = struct
        while current is not None:
            if current == ancestor:
                return True
            current = self.parent(current)
        return False

    def operation(self, name: str) -> Operation:
        try:
            return self.operations[name]
        except KeyError:
            raise ValueError(f"PWServices has no operation {name!r}") from None

    def takes_criteria(self, operation: str) -> bool:
        """Whether a search operation can be narrowed at all (``getAllPortfolios()``/``getVendors()`` cannot)."""
        return any(self.is_struct(p.type.name) and p.type.name.endswith("SearchCriteria")
                   for p in self.operation(operation).params)


@functools.cache
def signatures() -> Signatures:
    """The packaged signatures, parsed once per process."""
    text = resources.files("greenlight_dagster.contracts").joinpath("propertyware-soap-signatures.json").read_text(
        encoding="utf-8")
    return Signatures(json.loads(text))


# ---------------------------------------------------------------- values

_INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_XML_ILLEGAL = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def conforms(xsd: str, value: Any) -> bool:
    """Whether ``value`` can travel as an ``xsd:<xsd>`` and be read back unchanged."""
    if xsd in _INT_RANGES:
        low, high = _INT_RANGES[xsd]
        return type(value) is int and low <= value <= high
    if xsd == "double":
        return type(value) is float and value == value and value not in (float("inf"), float("-inf"))
    if xsd == "boolean":
        return type(value) is bool
    # Strings (and anyType leaves, sent as strings): XML cannot carry most C0 controls or a bare CR.
    return isinstance(value, str) and not _XML_ILLEGAL.search(value)


def to_legacy_date(value: Any, fmt: str) -> Any:
    """ISO date/timestamp -> the legacy string; any other value as it is (the warehouse flags it)."""
    if not isinstance(value, str):
        return value
    if fmt == LEGACY_DATE:
        match = _ISO_DATE.fullmatch(value)
        return f"{match[2]}/{match[3]}/{match[1]}" if match else value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (parsed.astimezone(UTC) if parsed.tzinfo else parsed).strftime(fmt)
    except (ValueError, OverflowError):
        return value


def from_legacy_date(value: Any, fmt: str) -> Any:
    """The legacy string -> ISO (``2026-02-30`` stays what it says); other text as it is."""
    if not isinstance(value, str):
        return value
    if fmt == LEGACY_DATE:
        match = _LEGACY_DATE.fullmatch(value)
        return f"{match[3]}-{match[1]}-{match[2]}" if match else value
    try:
        return datetime.strptime(value, fmt).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return value


# ---------------------------------------------------------------- REST <-> legacy

def to_legacy(struct: str, record: dict[str, Any], *, contacts: dict[int, dict[str, Any]] | None = None
              ) -> dict[str, Any]:
    """A REST-named record -> the legacy struct's fields (what the service would send).

    A field the struct has no place for, or a value its type cannot hold (``multiUnit: "Multi
    Family"`` where a boolean is declared), is left out: the real service could not send it.
    ``contacts`` (id -> contact record) fills a lease's ``tenants`` and ``primaryContact``.
    """
    sig = signatures()
    mapped = {m.rest: m for m in LEGACY_FIELDS.get(struct, ())}
    out: dict[str, Any] = {}
    for key, value in record.items():
        if value is None:
            continue
        rule = mapped.get(key)
        if rule is None:
            name = "ID" if key == "id" else key
            field = sig.field(struct, name)
            if field is not None:
                converted = _value_to_legacy(field.type, value)
                if converted is not None:
                    out[name] = converted
            continue
        _rule_to_legacy(struct, rule, value, out, contacts)
    return out


def _value_to_legacy(type_: TypeRef, value: Any) -> Any:
    """A value of the declared type, or None when it cannot be one."""
    if type_.array:
        if not isinstance(value, list):
            return None
        items = [_value_to_legacy(TypeRef(type_.name), item) for item in value]
        return items if all(item is not None for item in items) else None
    if type_.builtin:
        xsd = "string" if type_.name in ("anyType", "string") else type_.name
        if xsd == "string" and isinstance(value, str):
            # Text XML cannot carry (a BEL typed into a description) travels without those characters,
            # as a service must send it for its answer to parse at all; the rest of the text is kept.
            value = _XML_ILLEGAL.sub("", value)
        return value if conforms(xsd, value) else None
    return to_legacy(type_.name, value) if isinstance(value, dict) else None


def _field_struct(struct: str, name: str) -> str | None:
    field = signatures().field(struct, name)
    return field.type.name if field is not None else None


def _rule_to_legacy(struct: str, rule: LegacyField, value: Any, out: dict[str, Any],
                    contacts: dict[int, dict[str, Any]] | None) -> None:
    kind = rule.kind
    if kind == "rename":
        if conforms("string", value) or type(value) in (bool, int, float):
            out[rule.legacy] = value
    elif kind == "ref":
        if type(value) is int:
            contact = (contacts or {}).get(value) if _field_struct(struct, rule.legacy) == "Contact" else None
            out[rule.legacy] = to_legacy("Contact", contact) if contact else {"ID": value}
    elif kind == "id_text":
        if type(value) is int:
            out[rule.legacy] = str(value)
    elif kind == "id_list":
        if type(value) is int:
            out[rule.legacy] = [value]
    elif kind == "id_objects":
        if isinstance(value, list):
            ids = [item.get("id") for item in value if isinstance(item, dict)]
            if ids and all(type(i) is int for i in ids):
                out[rule.legacy] = ids
    elif kind == "tenants":
        if isinstance(value, list):
            by_id = contacts or {}
            out[rule.legacy] = [to_legacy("Contact", by_id[t]) if t in by_id else {"ID": t}
                                for t in value if type(t) is int]
    elif kind in ("date", "datetime"):
        text = to_legacy_date(value, LEGACY_DATE if kind == "date" else LEGACY_DATETIME)
        if conforms("string", text):
            out[rule.legacy] = text
    elif kind == "address":
        if isinstance(value, dict):
            for rest_key, legacy_key in ADDRESS_FIELDS:
                if conforms("string", value.get(rest_key)):
                    out[legacy_key] = value[rest_key]
    elif kind == "notes":
        if isinstance(value, list):
            out[rule.legacy] = [
                {k: v for k, v in (("body", note.get("note")),
                                   ("date", to_legacy_date(note.get("createdDateTime"), LEGACY_DATETIME)))
                 if conforms("string", v)}
                for note in value if isinstance(note, dict)]
    else:  # pragma: no cover - LEGACY_FIELDS names only the kinds above (a test checks)
        raise ValueError(f"unknown legacy field kind {kind!r}")


LEGACY_KINDS = ("rename", "ref", "id_text", "id_list", "id_objects", "tenants", "date", "datetime", "address",
                "notes")


def from_legacy(struct: str, legacy: dict[str, Any]) -> dict[str, Any]:
    """A decoded legacy struct -> the REST-named raw payload (the warehouse's one vocabulary)."""
    by_legacy = {m.legacy: m for m in LEGACY_FIELDS.get(struct, ())}
    out: dict[str, Any] = {}
    for name, value in legacy.items():
        rule = by_legacy.get(name)
        if rule is None:
            out["id" if name == "ID" else name] = _nested_from_legacy(struct, name, value)
            continue
        kind = rule.kind
        if kind == "rename":
            out[rule.rest] = value
        elif kind == "ref":
            out[rule.rest] = value.get("ID") if isinstance(value, dict) else None
        elif kind == "id_text":
            out[rule.rest] = int(value) if isinstance(value, str) and value.strip().lstrip("-").isdigit() else value
        elif kind == "id_list":
            if isinstance(value, list) and value:
                out[rule.rest] = value[0]
                if len(value) > 1:  # REST names one unit; keep the others rather than lose them
                    out[rule.legacy] = value
        elif kind == "id_objects":
            out[rule.rest] = [{"id": item} for item in value] if isinstance(value, list) else value
        elif kind == "tenants":
            tenants = [t for t in value if isinstance(t, dict)] if isinstance(value, list) else []
            out[rule.rest] = [t.get("ID") for t in tenants]
            primary = legacy.get("primaryContact")
            primary_id = primary.get("ID") if isinstance(primary, dict) else None
            out["contacts"] = [{**from_legacy("Contact", t), "primary": t.get("ID") == primary_id} for t in tenants]
        elif kind in ("date", "datetime"):
            out[rule.rest] = from_legacy_date(value, LEGACY_DATE if kind == "date" else LEGACY_DATETIME)
        elif kind == "address":
            pass  # gathered below, from all of its flat fields
        elif kind == "notes":
            out[rule.rest] = [{"note": n.get("body"), "createdDateTime": from_legacy_date(n.get("date"),
                                                                                          LEGACY_DATETIME)}
                              for n in value if isinstance(n, dict)] if isinstance(value, list) else value
    if any(m.kind == "address" for m in by_legacy.values()):
        address = {rest_key: legacy[legacy_key] for rest_key, legacy_key in ADDRESS_FIELDS if legacy_key in legacy}
        for _, legacy_key in ADDRESS_FIELDS:
            out.pop(legacy_key, None)
        if address:
            out["address"] = address
    return out


def _nested_from_legacy(struct: str, name: str, value: Any) -> Any:
    """A same-named field's value; a nested struct (``customFields`` items) mapped by its own rules."""
    field = signatures().field(struct, name)
    if field is None or field.type.builtin:
        return value
    if isinstance(value, list):
        return [from_legacy(field.type.name, v) if isinstance(v, dict) else v for v in value]
    return from_legacy(field.type.name, value) if isinstance(value, dict) else value
