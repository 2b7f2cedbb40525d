"""SOAP response envelopes of the PW sandbox, written as text rather than through an element tree.

Why not lxml: building an element per value and serialising the tree was a third of the
server's time per list page. The output is byte-for-byte what lxml produced for the same wire
dict (``tostring(root, xml_declaration=True, encoding="UTF-8")`` with the ``soapenv``/``pw``
prefixes declared on the envelope), which a test checks against lxml over whole generated
worlds: text escapes ``&``, ``<``, ``>`` (and a carriage return as ``&#13;``), everything else
is written as UTF-8; an element with empty text is ``<pw:a></pw:a>``, one with no content at
all ``<pw:a/>``.

Wire dicts come from `WireSchema.to_wire`, so their values conform to the declared types: a
string never holds a character XML cannot carry (those travel in ``clientData`` as JSON).
A list page's records may be passed as `Fragment` bytes already rendered by `element`, which
is what lets the server cache each record's XML.
"""

from __future__ import annotations

from typing import Any

from greenlight_dagster.clients.pw_wire import NS, SOAP_ENV_NS, lexical

_HEAD = ("<?xml version='1.0' encoding='UTF-8'?>\n"
         f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:pw="{NS}"><soapenv:Body>').encode()
_TAIL = b"</soapenv:Body></soapenv:Envelope>"


class Fragment(bytes):
    """One element already rendered (UTF-8) by `element`, written as it is."""


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


def element(name: str, value: Any) -> str:
    """``<pw:name>`` holding a wire value: a dict becomes child elements, a leaf its lexical text."""
    if isinstance(value, dict):
        inner = children(value)
        return f"<pw:{name}>{inner}</pw:{name}>" if inner else f"<pw:{name}/>"
    return f"<pw:{name}>{escape(lexical(value))}</pw:{name}>"


def children(wire: dict[str, Any]) -> str:
    """The elements of a wire dict in its (sequence) order; a list repeats its element.

    Leaves are written inline rather than through `element`: a call per value was most of the cost.
    """
    parts = []
    for name, value in wire.items():
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, dict):
                parts.append(element(name, item))
            elif isinstance(item, str):
                parts.append(f"<pw:{name}>{escape(item)}</pw:{name}>")
            else:
                parts.append(f"<pw:{name}>{lexical(item)}</pw:{name}>")
    return "".join(parts)


def fragment(name: str, wire: dict[str, Any]) -> Fragment:
    """A record's element, rendered once so that a cache can hold it."""
    return Fragment(element(name, wire).encode())


def response_envelope(name: str, wire: dict[str, Any]) -> bytes:
    """The envelope around ``<pw:name>``; `Fragment` items in its lists are copied in verbatim."""
    parts = [_HEAD, f"<pw:{name}>".encode()]
    for key, value in wire.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(item if isinstance(item, Fragment) else element(key, item).encode())
    if len(parts) == 2:
        return _HEAD + f"<pw:{name}/>".encode() + _TAIL
    parts += [f"</pw:{name}>".encode(), _TAIL]
    return b"".join(parts)
