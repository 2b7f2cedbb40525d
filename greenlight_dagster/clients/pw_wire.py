"""The PWServices wire vocabulary: fixture/REST dicts <-> WSDL-typed XML, both ways.

Shared by the zeep client and the sandbox SOAP server so the two cannot drift: the WSDL
(``sandbox/propertyware.wsdl``, parsed by zeep) is the single description of element
names, order and types, and this module only adds the three things a WSDL cannot say:

* **Renames.** Element names are the REST names of propertyware.md §4 except the legacy
  ones: ``ID`` (every object), ``Contact.contactType`` and ``Lease.leaseStatus``; a lease's
  ``tenants`` elements are the REST ``contacts`` (LeaseContact) list.
* **clientData.** A field with no typed element, or whose value is not of the declared type
  (``multiUnit: "Multi Family"`` where a boolean is declared, a timestamp that is not
  canonical UTC, ``null``, an empty list), travels as ``clientData`` key + JSON text. So
  every fixture record round-trips exactly, including the off-spec values the client must
  survive (propertyware.md §3 "Enum values outside the spec").
* **Strict decoding.** zeep's own parser turns an unparseable ``xsd:long`` into ``None``
  and any non-"true" boolean into ``False`` with only a log line; a sync must instead see
  *which* field of *which* record is broken, so leaves are converted here and a bad one
  raises `WireValueError` naming the path.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

NS = "http://propertyware.com/pw/services/PWServices"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
CLIENT_DATA = "clientData"

#: Per complex type: wire element name -> REST field name. ``ID`` -> ``id`` applies everywhere.
RENAMES: dict[str, dict[str, str]] = {
    "Contact": {"contactType": "type"},
    "Lease": {"leaseStatus": "status", "tenants": "contacts"},
}

_INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_INTEGER = re.compile(r"[+-]?\d+")
_XML_ILLEGAL = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MISSING = object()


class WireValueError(ValueError):
    """An element whose text is not a value of its declared type (or a structural error)."""


def parse_utc(value: str) -> datetime:
    """ISO-8601 -> aware UTC datetime; a timestamp without offset is taken as UTC (the API's zone).

    Raises ValueError for anything unusable, including a time at the edge of the calendar that
    has no UTC equivalent (``0001-01-01T00:00:00+01:00``), which Python reports as OverflowError.
    """
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    try:
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value!r} has no UTC equivalent") from None


def format_utc(value: datetime) -> str:
    """The canonical wire timestamp ``yyyy-MM-ddTHH:mm:ssZ`` (naive datetimes are UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WireField:
    """One element of a complex type, as the WSDL declares it."""

    wire: str
    rest: str
    kind: str  # an xsd builtin's local name ("long", "dateTime", ...) or "complex"
    many: bool
    required: bool
    xsd_type: Any  # the zeep type; recursed into when kind == "complex"


def _conforms(kind: str, value: Any) -> bool:
    """Whether ``value`` can be written as an element of xsd ``kind`` and read back unchanged."""
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        return type(value) is int and low <= value <= high
    if kind == "double":
        return type(value) is float and math.isfinite(value)
    if kind == "boolean":
        return type(value) is bool
    if kind == "dateTime":
        try:
            return isinstance(value, str) and format_utc(parse_utc(value)) == value
        except ValueError:
            return False
    # Strings: XML cannot carry U+0000, most C0 controls, lone surrogates or a bare CR.
    return isinstance(value, str) and not _XML_ILLEGAL.search(value)


def _leaf(kind: str, text: str, path: str) -> Any:
    """Strictly convert an element's text to the Python value of xsd ``kind``."""
    stripped = text.strip()
    try:
        if kind in _INT_RANGES:
            if not _INTEGER.fullmatch(stripped):
                raise ValueError
            return int(stripped)
        if kind == "double":
            return float(stripped)
        if kind == "boolean":
            return {"true": True, "1": True, "false": False, "0": False}[stripped]
        if kind == "dateTime":
            return format_utc(parse_utc(stripped))
    except (ValueError, KeyError):
        raise WireValueError(f"{path}: {text!r} is not a valid xsd:{kind}") from None
    return text


def lexical(value: Any) -> str:
    """The XML text of a conforming leaf value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


class WireSchema:
    """The WSDL's types (a zeep ``Schema``) seen as REST-named fields."""

    def __init__(self, types: Any) -> None:
        self._types = types
        self._fields: dict[int, tuple[WireField, ...]] = {}

    def element_type(self, name: str) -> Any:
        """The type of the global element ``name`` (e.g. the ``getWorkOrders`` wrapper)."""
        return self._types.get_element(f"{{{NS}}}{name}").type

    def fields(self, xsd_type: Any) -> tuple[WireField, ...]:
        """The type's elements in sequence order (base type's first), cached per type."""
        key = id(xsd_type)
        if key not in self._fields:
            renames = RENAMES.get(getattr(xsd_type, "name", None) or "", {})
            self._fields[key] = tuple(
                WireField(
                    wire=name,
                    rest=renames.get(name, "id" if name == "ID" else name),
                    kind=_kind(element.type),
                    many=element.max_occurs == "unbounded" or element.max_occurs > 1,
                    required=element.min_occurs >= 1,
                    xsd_type=element.type,
                )
                for name, element in xsd_type.elements
            )
        return self._fields[key]

    def field(self, xsd_type: Any, wire_name: str) -> WireField:
        """One element of a type by its wire name."""
        for candidate in self.fields(xsd_type):
            if candidate.wire == wire_name:
                return candidate
        raise KeyError(f"{getattr(xsd_type, 'name', xsd_type)} has no element {wire_name!r}")

    # ---- XML -> REST dict ----
    def decode(self, element: etree._Element, xsd_type: Any, *, strict: bool, path: str = "") -> dict[str, Any]:
        """An element of ``xsd_type`` -> REST-named dict; ``clientData`` entries merged back in.

        ``strict`` (the server reading requests) refuses unknown elements and missing
        required ones; the client keeps an unknown element's text under its own name, so a
        field the server adds later reaches the warehouse instead of breaking the sync.
        """
        by_wire = {f.wire: f for f in self.fields(xsd_type)}
        out: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for child in element.iterchildren(etree.Element):
            name = etree.QName(child).localname
            where = f"{path}/{name}" if path else name
            spec = by_wire.get(name)
            if spec is None:
                if strict:
                    raise WireValueError(f"{where}: unexpected element")
                out[name] = child.text or ""
            elif spec.wire == CLIENT_DATA:
                extra.update([self._client_data(child, where)])
            elif child.get(XSI_NIL) in ("true", "1"):
                continue
            else:
                value = (self.decode(child, spec.xsd_type, strict=strict, path=where) if spec.kind == "complex"
                         else _leaf(spec.kind, child.text or "", where))
                if spec.many:
                    out.setdefault(spec.rest, []).append(value)
                else:
                    out[spec.rest] = value
        if strict:
            missing = [f.wire for f in by_wire.values() if f.required and f.rest not in out]
            if missing:
                raise WireValueError(f"{path or 'request'}: missing required element(s) {', '.join(missing)}")
        out.update(extra)
        return out

    def _client_data(self, element: etree._Element, path: str) -> tuple[str, Any]:
        key = element.findtext(f"{{{NS}}}key")
        text = element.findtext(f"{{{NS}}}value")
        if key is None or text is None:
            raise WireValueError(f"{path}: clientData needs a key and a value")
        try:
            return key, json.loads(text)
        except ValueError:
            raise WireValueError(f"{path}[{key}]: value is not JSON: {text[:80]!r}") from None

    # ---- REST dict -> wire dict ----
    def to_wire(self, record: dict[str, Any], xsd_type: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """REST dict -> (wire-named dict in sequence order, leftovers).

        What the typed elements cannot carry goes to ``clientData`` when the type has one;
        otherwise it is returned as leftovers for the caller to judge.
        """
        fields = self.fields(xsd_type)
        by_rest = {f.rest: f for f in fields if f.wire != CLIENT_DATA}
        wire: dict[str, Any] = {}
        left: dict[str, Any] = {}
        for key, value in record.items():
            spec = by_rest.get(key)
            converted = _MISSING if spec is None else self._convert(spec, value)
            if spec is None or converted is _MISSING:
                left[key] = value
            else:
                wire[spec.wire] = converted
        if left and any(f.wire == CLIENT_DATA for f in fields):
            wire[CLIENT_DATA] = [{"key": k, "value": json.dumps(v, ensure_ascii=True)} for k, v in left.items()]
            left = {}
        return {f.wire: wire[f.wire] for f in fields if f.wire in wire}, left

    def _convert(self, spec: WireField, value: Any) -> Any:
        if not spec.many:
            return self._convert_one(spec, value)
        if not isinstance(value, list) or not value:
            return _MISSING
        items = [self._convert_one(spec, item) for item in value]
        return _MISSING if any(item is _MISSING for item in items) else items

    def _convert_one(self, spec: WireField, value: Any) -> Any:
        if spec.kind != "complex":
            return value if _conforms(spec.kind, value) else _MISSING
        if not isinstance(value, dict):
            return _MISSING
        wire, left = self.to_wire(value, spec.xsd_type)
        return _MISSING if left else wire


def _kind(xsd_type: Any) -> str:
    qname = getattr(xsd_type, "qname", None)
    if qname is not None and etree.QName(qname).namespace == XSD_NS:
        return str(etree.QName(qname).localname)
    return "complex"
