"""The legacy PWServices WSDL, generated from the packaged signatures (rpc/encoded, Axis 1 layout).

Generated rather than kept as a file so that the served description and the one the client and
server code from (`clients.pw_legacy.signatures`) are the same by construction: every operation
with its parameters and return type, every struct with all its fields and its parent
(``complexContent/extension``), arrays as ``soapenc:Array`` restrictions named ``ArrayOf_…`` as
Axis names them. Every field is ``minOccurs="0" nillable="true"``: the service leaves out what a
record does not have.
"""

from __future__ import annotations

import functools

from lxml import etree

from greenlight_dagster.clients.pw_legacy import Signatures, TypeRef, signatures
from greenlight_dagster.clients.pw_wire import NS, SOAPENC_NS, TYPES_NS, XSD_NS

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDLSOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"
#: Replaced by each server's own address when served.
ADDRESS_PLACEHOLDER = "http://127.0.0.1/pw/services/PWServices"
_NSMAP = {"wsdl": WSDL_NS, "wsdlsoap": WSDLSOAP_NS, "soapenc": SOAPENC_NS, "xsd": XSD_NS, "impl": NS, "intf": NS,
          "tns1": TYPES_NS}


def type_qname(type_: TypeRef) -> str:
    """The WSDL type a field or part is declared with."""
    if type_.array:
        return f"impl:{array_name(type_.name)}"
    return f"xsd:{type_.name}" if type_.builtin else f"tns1:{type_.name}"


def array_name(item: str) -> str:
    return f"ArrayOf_xsd_{item}" if TypeRef(item).builtin else f"ArrayOf_tns1_{item}"


def _w(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    ns, _, local = tag.partition(":")
    return etree.SubElement(parent, f"{{{_NSMAP[ns]}}}{local}", attrs)


def build_wsdl(sig: Signatures) -> bytes:
    root = etree.Element(f"{{{WSDL_NS}}}definitions", {"targetNamespace": NS}, nsmap=_NSMAP)
    types = _w(root, "wsdl:types")
    arrays: set[str] = set()

    structs = _w(types, "xsd:schema", targetNamespace=TYPES_NS, elementFormDefault="unqualified")
    _w(structs, "xsd:import", namespace=SOAPENC_NS)
    for name in sig.struct_names:
        complex_type = _w(structs, "xsd:complexType", name=name)
        parent = sig.parent(name)
        holder = complex_type
        if parent:
            holder = _w(_w(complex_type, "xsd:complexContent"), "xsd:extension", base=f"tns1:{parent}")
        sequence = _w(holder, "xsd:sequence")
        for field in sig.own_fields(name):
            if field.type.array:
                arrays.add(field.type.name)
            _w(sequence, "xsd:element", name=field.name, type=type_qname(field.type), minOccurs="0",
               nillable="true")
    for op in sig.operations.values():
        for type_ in [p.type for p in op.params] + ([op.returns] if op.returns else []):
            if type_.array:
                arrays.add(type_.name)

    impl = _w(types, "xsd:schema", targetNamespace=NS)
    _w(impl, "xsd:import", namespace=SOAPENC_NS)
    for item in sorted(arrays):
        restriction = _w(_w(_w(impl, "xsd:complexType", name=array_name(item)), "xsd:complexContent"),
                         "xsd:restriction", base="soapenc:Array")
        attribute = _w(restriction, "xsd:attribute", ref="soapenc:arrayType")
        attribute.set(f"{{{WSDL_NS}}}arrayType", f"{type_qname(TypeRef(item))}[]")

    for op in sig.operations.values():
        request = _w(root, "wsdl:message", name=f"{op.name}Request")
        for param in op.params:
            _w(request, "wsdl:part", name=param.name, type=type_qname(param.type))
        response = _w(root, "wsdl:message", name=f"{op.name}Response")
        if op.returns:
            _w(response, "wsdl:part", name=f"{op.name}Return", type=type_qname(op.returns))

    port_type = _w(root, "wsdl:portType", name="PWServices")
    for op in sig.operations.values():
        operation = _w(port_type, "wsdl:operation", name=op.name)
        if op.params:
            operation.set("parameterOrder", " ".join(p.name for p in op.params))
        _w(operation, "wsdl:input", message=f"impl:{op.name}Request", name=f"{op.name}Request")
        _w(operation, "wsdl:output", message=f"impl:{op.name}Response", name=f"{op.name}Response")

    binding = _w(root, "wsdl:binding", name="PWServicesSoapBinding", type="impl:PWServices")
    _w(binding, "wsdlsoap:binding", style="rpc", transport=HTTP_TRANSPORT)
    for op in sig.operations.values():
        operation = _w(binding, "wsdl:operation", name=op.name)
        _w(operation, "wsdlsoap:operation", soapAction="")
        for direction, suffix in (("input", "Request"), ("output", "Response")):
            message = _w(operation, f"wsdl:{direction}", name=f"{op.name}{suffix}")
            _w(message, "wsdlsoap:body", encodingStyle=SOAPENC_NS, namespace=NS, use="encoded")

    service = _w(root, "wsdl:service", name="PWServicesService")
    port = _w(service, "wsdl:port", binding="impl:PWServicesSoapBinding", name="PWServices")
    _w(port, "wsdlsoap:address", location=ADDRESS_PLACEHOLDER)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


@functools.cache
def wsdl_text() -> str:
    """The WSDL, generated once per process."""
    return build_wsdl(signatures()).decode("utf-8")
