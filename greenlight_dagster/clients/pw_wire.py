"""SOAP 1.1 rpc/encoded, as Apache Axis 1 speaks it, for the legacy PWServices: both directions.

Shared by the client and the sandbox server, and driven by `pw_legacy.signatures` (the vendor's
operations and structs), so the two cannot drift:

* **Writing** (`Writer`): an operation element in the service namespace holding one unqualified
  element per parameter; every value carries ``xsi:type``; arrays are ``soapenc:Array`` with
  ``soapenc:arrayType="…[n]"`` and ``item`` children; nil values are left out. With
  ``multiref`` (what an Axis server answers), every struct is written once as a top-level
  ``<multiRef id="idN">`` and referenced by ``href="#idN"``; without it (requests) structs are
  inline. Written as text: building an element tree per value was most of a page's cost.
* **Reading** (`Decoder`): ``href`` resolved against the body's ``multiRef`` elements (cycles and
  dangling references are errors, never loops), ``xsi:type`` honoured (``getVendors`` returns
  ``anyType[]``: the items say they are ``Vendor``), soapenc arrays, and each leaf converted
  strictly: a value that is not of its type raises `WireValueError` naming the path, unlike a
  lenient parser that would turn it into ``None`` and let it reach the warehouse.
* **Parsing** (`parse_xml`): no DTD, no entities, no network, no huge trees; a document that
  declares a DTD is refused as hostile (`HostileXML`) whether or not the parser could read it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from greenlight_dagster.clients.pw_legacy import Signatures, TypeRef, signatures

NS = "http://propertyware.com/pw/services/PWServices"
#: Where the structs live (the WSDL's ``tns1`` schema). Readers match types by local name only.
TYPES_NS = "http://dto.soap.api.propertyware.com"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAPENC_NS = "http://schemas.xmlsoap.org/soap/encoding/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE = f"{{{XSI_NS}}}type"
XSI_NIL = f"{{{XSI_NS}}}nil"
ARRAY_TYPE = f"{{{SOAPENC_NS}}}arrayType"
#: Nesting of struct references followed when reading: PW's structs nest a few levels at most.
MAX_DEPTH = 32

_INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_INTEGER = re.compile(r"[+-]?\d+")
_DOCTYPE = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
#: Namespaces declared once on the envelope; everything below uses these prefixes.
PREFIXES = {"soapenv": SOAP_ENV_NS, "soapenc": SOAPENC_NS, "xsd": XSD_NS, "xsi": XSI_NS, "ns1": NS,
            "tns1": TYPES_NS}
_HEAD = ("<?xml version='1.0' encoding='UTF-8'?>\n<soapenv:Envelope "
         + " ".join(f'xmlns:{p}="{u}"' for p, u in PREFIXES.items()) + ">")
ENCODED = f' soapenv:encodingStyle="{SOAPENC_NS}"'
#: Marks a multiRef number inside a rendered fragment; XML text can never contain U+0000.
REF_MARK = "\x00"


class WireValueError(ValueError):
    """A value that is not of its declared type, or a broken reference, at a named path."""


class HostileXML(ValueError):
    """A document declaring a DTD or entities: refused, never expanded."""


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
    """The wire timestamp ``yyyy-MM-ddTHH:mm:ssZ`` used in search criteria (naive datetimes are UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- parsing

class _Parser(etree.XMLParser):
    def __init__(self) -> None:
        super().__init__(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                         remove_comments=True, remove_pis=True)


def parse_xml(content: bytes) -> etree._Element:
    """The document's root, parsed hardened; `HostileXML` for a DTD, `etree.XMLSyntaxError` for garbage.

    The DTD check looks at the raw prolog too: libxml2 may give up on an amplifying entity
    declaration before it reports a doctype, and such an answer must be refused as hostile,
    not retried as unreadable.
    """
    head = content[:4096].lstrip()
    if _DOCTYPE.search(head.split(b"<soapenv:", 1)[0] if b"<soapenv:" in head else head):
        raise HostileXML("the document declares a DTD or entities")
    root = etree.fromstring(content, parser=_Parser())
    if root.getroottree().docinfo.doctype:
        raise HostileXML("the document declares a DTD")
    return root


# ---------------------------------------------------------------- leaves

def lexical(value: Any) -> str:
    """The XML text of a conforming leaf value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def escape(text: str) -> str:
    """Character data as libxml2 writes it in a UTF-8 document."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def leaf(xsd: str, text: str, path: str) -> Any:
    """Strictly convert an element's text to the Python value of ``xsd:<xsd>``."""
    stripped = text.strip()
    try:
        if xsd in _INT_RANGES:
            low, high = _INT_RANGES[xsd]
            if not _INTEGER.fullmatch(stripped) or not low <= int(stripped) <= high:
                raise ValueError
            return int(stripped)
        if xsd in ("double", "float", "decimal"):
            number = float(stripped)
            if not math.isfinite(number):
                raise ValueError
            return number
        if xsd == "boolean":
            return {"true": True, "1": True, "false": False, "0": False}[stripped]
    except (ValueError, KeyError):
        raise WireValueError(f"{path}: {text!r} is not a valid xsd:{xsd}") from None
    return text


# ---------------------------------------------------------------- writing

@dataclass
class Writer:
    """Renders values as rpc/encoded elements (text); ``multiref``: structs as multiRef elements."""

    multiref: bool
    sig: Signatures = field(default_factory=signatures)
    refs: list[str] = field(default_factory=list)
    _next: int = 0

    def element(self, name: str, type_: TypeRef, value: Any) -> str:
        """``<name xsi:type=…>`` holding ``value`` of ``type_`` (a struct: a dict of its fields)."""
        if type_.array:
            item_type = TypeRef(type_.name)
            items = "".join(self.element("item", item_type, v) for v in value if v is not None)
            return (f'<{name} xsi:type="soapenc:Array" soapenc:arrayType="{_qname(type_.name)}[{len(value)}]">'
                    f"{items}</{name}>")
        if type_.builtin or not isinstance(value, dict):
            xsd = "string" if type_.name == "anyType" or not type_.builtin else type_.name
            text = escape(value) if isinstance(value, str) else lexical(value)
            return f'<{name} xsi:type="xsd:{xsd}">{text}</{name}>'
        body = self.struct_body(type_.name, value)
        if not self.multiref:
            return f'<{name} xsi:type="{_qname(type_.name)}">{body}</{name}>'
        number = self._next
        self._next += 1
        ref = f"{REF_MARK}{number}{REF_MARK}"
        self.refs.append(f'<multiRef id="{ref}" soapenc:root="0"{ENCODED} xsi:type="{_qname(type_.name)}">'
                         f"{body}</multiRef>")
        return f'<{name} href="#{ref}"/>'

    def struct_body(self, struct: str, value: dict[str, Any]) -> str:
        """The struct's fields in declaration order (ancestors' first); absent and nil ones left out."""
        by_name = self.sig.field_map(struct)
        present = sorted((by_name[k] for k, v in value.items() if v is not None and k in by_name),
                         key=lambda indexed: indexed[0])
        return "".join(self.element(f.name, f.type, value[f.name]) for _, f in present)


def _qname(type_name: str) -> str:
    return f"xsd:{type_name}" if type_name in ("string", "long", "int", "double", "boolean", "anyType") \
        else f"tns1:{type_name}"


def number_refs(text: str, base: int) -> tuple[str, int]:
    """A fragment whose multiRefs are numbered from 0 -> numbered from ``base``; and how many it holds."""
    parts = text.split(REF_MARK)
    count = 0
    for i in range(1, len(parts), 2):
        local = int(parts[i])
        count = max(count, local + 1)
        parts[i] = f"id{base + local}"
    return "".join(parts), count


def envelope(body: str, header: str = "") -> bytes:
    """A SOAP 1.1 envelope around already rendered body (and header) content."""
    head = f"<soapenv:Header>{header}</soapenv:Header>" if header else ""
    return f"{_HEAD}{head}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>".encode()


def call_element(operation: str, params: Iterator[tuple[str, TypeRef, Any]] | list[tuple[str, TypeRef, Any]],
                 writer: Writer) -> str:
    """``<ns1:operation>`` with one element per given parameter (an rpc request or response wrapper)."""
    inner = "".join(writer.element(name, type_, value) for name, type_, value in params if value is not None)
    return f"<ns1:{operation}{ENCODED}>{inner}</ns1:{operation}>"


def request(operation: str, arguments: dict[str, Any], header: str = "") -> bytes:
    """The request envelope of ``operation`` with its arguments (parameter name -> value)."""
    op = signatures().operation(operation)
    unknown = set(arguments) - {p.name for p in op.params}
    if unknown:
        raise ValueError(f"{operation} takes no parameter(s) {sorted(unknown)}")
    writer = Writer(multiref=False)
    return envelope(call_element(operation, [(p.name, p.type, arguments.get(p.name)) for p in op.params], writer),
                    header)


# ---------------------------------------------------------------- reading

class Decoder:
    """Reads the values of one SOAP Body, resolving ``href`` against its ``multiRef`` elements."""

    def __init__(self, body: etree._Element, *, strict: bool, sig: Signatures | None = None) -> None:
        self.sig = sig or signatures()
        self.strict = strict
        self.refs = {el.get("id"): el for el in body.iterchildren(etree.Element) if el.get("id") is not None}
        self._resolving: set[str] = set()

    def target(self, element: etree._Element, path: str) -> etree._Element:
        """The element itself, or the multiRef its ``href`` names."""
        href = element.get("href")
        if href is None:
            return element
        found = self.refs.get(href[1:]) if href.startswith("#") else None
        if found is None:
            raise WireValueError(f"{path}: href {href!r} names no multiRef in the answer")
        return found

    def value(self, element: etree._Element, declared: TypeRef, path: str, depth: int = 0) -> Any:
        """The Python value of an element declared as ``declared`` (its ``xsi:type`` wins when it says more)."""
        if depth > MAX_DEPTH:
            raise WireValueError(f"{path}: references nest deeper than {MAX_DEPTH}")
        href = element.get("href")
        if href is not None:
            if href in self._resolving:
                raise WireValueError(f"{path}: href {href!r} refers back to itself")
            self._resolving.add(href)
            try:
                return self.value(self.target(element, path), declared, path, depth + 1)
            finally:
                self._resolving.discard(href)
        if element.get(XSI_NIL) in ("true", "1"):
            return None
        xsi_ns, xsi_name = _xsi_type(element)
        if (xsi_ns == SOAPENC_NS and xsi_name == "Array") or element.get(ARRAY_TYPE) is not None or (
                declared.array and xsi_name is None):
            item = _array_item_type(element, declared)
            return [self.value(child, item, f"{path}[{i}]", depth + 1)
                    for i, child in enumerate(element.iterchildren(etree.Element))]
        if xsi_ns == XSD_NS and xsi_name is not None:
            return leaf(xsi_name, element.text or "", path)
        struct = xsi_name if xsi_name is not None and self.sig.is_struct(xsi_name) else declared.name
        if not self.sig.is_struct(struct):
            return leaf(struct if struct != "anyType" else "string", element.text or "", path)
        return self.struct(element, struct, path, depth)

    def struct(self, element: etree._Element, struct: str, path: str, depth: int = 0) -> dict[str, Any]:
        """A struct's fields by their legacy names. Unknown elements: an error when ``strict``
        (the server reading requests), else kept as text (a field the vendor adds later)."""
        out: dict[str, Any] = {}
        for child in element.iterchildren(etree.Element):
            name = etree.QName(child).localname
            where = f"{path}/{name}"
            spec = self.sig.field(struct, name)
            if spec is None:
                if self.strict:
                    raise WireValueError(f"{where}: {struct} has no field {name!r}")
                out[name] = child.text or ""
                continue
            value = self.value(child, spec.type, where, depth + 1)
            if value is not None:
                out[name] = value
        return out


def _xsi_type(element: etree._Element) -> tuple[str | None, str | None]:
    raw = element.get(XSI_TYPE)
    if raw is None:
        return None, None
    prefix, _, local = raw.rpartition(":")
    return element.nsmap.get(prefix or None), local


def _array_item_type(element: etree._Element, declared: TypeRef) -> TypeRef:
    """An array's item type: the declared one, or what ``soapenc:arrayType`` says for ``anyType[]``."""
    if declared.name != "anyType":
        return TypeRef(declared.name)
    raw = element.get(ARRAY_TYPE) or ""
    local = raw.rpartition(":")[2].partition("[")[0]
    return TypeRef(local or "anyType")
