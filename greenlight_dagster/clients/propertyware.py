"""PropertyWare PWServices client: zeep over requests, paged streaming reads, resilient writes.

What the old bridge got wrong and this client is built against:

* **Socket hang-ups.** Keep-alive is off (``Connection: close``): PW drops idle pooled
  connections, and a request on a dead pooled socket is the classic "socket hang up". Resets,
  timeouts, HTTP 5xx/429 and SOAP ``Server`` faults are retried with exponential backoff and
  full jitter (`resilience.RetryPolicy`); a circuit breaker ends a run fast when PW is down.
  Auth and ``Client`` faults are never retried: they raise `PermanentError` naming the operation.
* **Memory.** `iter_records` asks for one page, yields its records, then asks for the next:
  it never holds more than one page.
* **One bad record.** Each record element is decoded on its own (`pw_wire.WireSchema.decode`,
  strict, unlike zeep's parser which silently nulls bad values); a record that fails becomes a
  `RejectedRecord` with the reason and its XML, and the rest of the page carries on.
* **XML attacks.** zeep parses with ``forbid_dtd``/``forbid_entities``/``forbid_external``,
  and ``strict=True`` so a truncated response is an error (retried), never "recovered" into
  a shorter page.

zeep is used in ``raw_response`` mode: it loads the WSDL, builds and validates every request
envelope and sends it, and this module reads the answer itself - classifying failures for the
retry policy needs the HTTP status, and per-record decoding needs the raw elements.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
import zeep
from lxml import etree
from zeep.exceptions import DTDForbidden, EntitiesForbidden, XMLSyntaxError
from zeep.loader import parse_xml
from zeep.transports import Transport
from zeep.wsdl import Document

from greenlight_dagster.clients.pw_wire import NS, SOAP_ENV_NS, WireSchema, WireValueError, format_utc, parse_utc
from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.resilience import (
    CallStats,
    CircuitBreaker,
    PermanentError,
    RetryableError,
    RetryPolicy,
    call_with_retry,
)
from greenlight_dagster.core.endpoints import EndpointError, check_same_origin

AUTH_MODES = ("basic", "header")
_LOG = logging.getLogger(__name__)
#: Transport failures after which the request may or may not have reached PW.
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class EntityRead:
    """How one ingestion entity is read: the search operation, its item element, fixed criteria."""

    operation: str
    item: str
    criteria: tuple[tuple[str, Any], ...] = ()


ENTITIES = {
    "portfolios": EntityRead("getAllPortfolios", "portfolio"),
    "buildings": EntityRead("getBuildings", "building"),
    "units": EntityRead("getUnits", "unit"),
    "leases": EntityRead("getLeases", "lease"),
    "tenants": EntityRead("getContacts", "contact", (("contactType", "TENANT"),)),
    "vendors": EntityRead("getVendors", "vendor"),
    "work_orders": EntityRead("getWorkOrders", "workOrder"),
}

_SETTINGS = zeep.Settings(strict=True, raw_response=True, xml_huge_tree=False, forbid_dtd=True,
                          forbid_entities=True, forbid_external=True)
_DOCUMENTS: dict[str, Document] = {}
_DOCUMENTS_LOCK = threading.Lock()


class _QuietTransport(Transport):
    """zeep's Transport logs whole envelopes at DEBUG; in header auth mode that is the password."""

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
        return self.session.post(address, data=message, headers=headers, timeout=self.operation_timeout)


def _document(wsdl_url: str, transport: Transport) -> Document:
    """The parsed WSDL, once per URL per process: one client is built per asset materialization."""
    with _DOCUMENTS_LOCK:
        if wsdl_url not in _DOCUMENTS:
            # zeep annotates ``transport`` as a class but uses (and documents) an instance.
            _DOCUMENTS[wsdl_url] = Document(wsdl_url, transport, settings=_SETTINGS)  # type: ignore[arg-type]
        return _DOCUMENTS[wsdl_url]


class PropertyWareClient:
    """One PropertyWare connection; `stats` counts its calls, retries and bytes."""

    #: Retried calls one write may make: `attach_note` reads, then reads and writes on every attempt.
    CALLS_PER_WRITE = 3

    @classmethod
    def longest_write_seconds(cls, timeout: float, retry: RetryPolicy) -> float:
        """The worst case of one write (`core.ledger.orphan_grace`).

        ``timeout`` bounds the connect and, separately, the read of each request (requests'
        scalar timeout), so one attempt may take twice it.
        """
        return cls.CALLS_PER_WRITE * retry.worst_case_seconds(2 * timeout)

    def __init__(self, wsdl_url: str, username: str, password: str, *, timeout: float = 90.0, page_size: int = 100,
                 retry: RetryPolicy | None = None, log: Any = None, breaker: CircuitBreaker | None = None,
                 auth_mode: str = "basic") -> None:
        if auth_mode not in AUTH_MODES:
            raise ValueError(f"auth_mode must be one of {AUTH_MODES}, got {auth_mode!r}")
        self.wsdl_url = wsdl_url
        self.page_size = page_size
        self.retry = retry or RetryPolicy()
        self.log = log or _LOG
        self.breaker = breaker or CircuitBreaker("PropertyWare", on_open=self.log.warning)
        self.stats = CallStats()
        self._auth_mode = auth_mode
        self._credentials = (username, password)
        self._session = requests.Session()
        self._session.headers["Connection"] = "close"
        if auth_mode == "basic":
            self._session.auth = (username, password)
        self._transport = _QuietTransport(session=self._session, timeout=timeout, operation_timeout=timeout)
        self._zeep: zeep.Client | None = None
        self._schema: WireSchema | None = None

    def __repr__(self) -> str:  # never show the password
        return f"PropertyWareClient({self.wsdl_url!r}, user={self._credentials[0]!r}, auth_mode={self._auth_mode!r})"

    # ---------------------------------------------------------------- reads
    def iter_records(self, entity: str, *, modified_from: datetime | None = None,
                     modified_to: datetime | None = None) -> Iterator[SourceRecord | RejectedRecord]:
        """Every record of ``entity`` modified within [from, to] (inclusive, UTC), page by page."""
        if entity not in ENTITIES:
            raise ValueError(f"unknown PropertyWare entity {entity!r}; expected one of {sorted(ENTITIES)}")
        read = ENTITIES[entity]
        criteria: dict[str, Any] = {**dict(read.criteria), "pageSize": self.page_size}
        if modified_from is not None:
            criteria["lastModifiedOnOrAfter"] = format_utc(modified_from)
        if modified_to is not None:
            criteria["lastModifiedOnOrBefore"] = format_utc(modified_to)
        page_number = 1
        while True:
            wrapper = self._call(read.operation, criteria={**criteria, "pageNumber": page_number})
            item_type = self._item_type(read)
            items = wrapper.findall(f"{{{NS}}}{read.item}")
            for element in items:
                yield self._normalise(entity, element, item_type)
            page_size = _int_text(wrapper, "pageSize") or self.page_size
            total = _int_text(wrapper, "totalCount")
            if len(items) < page_size or (total is not None and page_number * page_size >= total):
                return
            page_number += 1

    def _normalise(self, entity: str, element: etree._Element, xsd_type: Any) -> SourceRecord | RejectedRecord:
        raw = etree.tostring(element, encoding="unicode")
        key = element.findtext(f"{{{NS}}}ID")
        try:
            payload = self.schema.decode(element, xsd_type, strict=False)
        except WireValueError as exc:
            return RejectedRecord(entity, key, f"malformed {entity} record: {exc}", raw)
        record_id = payload.get("id")
        if record_id is None:
            return RejectedRecord(entity, key, f"{entity} record without an ID", raw)
        if type(record_id) is not int:
            return RejectedRecord(entity, str(record_id), f"ID {record_id!r} is not an integer", raw)
        modified = payload.get("lastModifiedDateTime")
        try:
            modified_at = parse_utc(modified) if modified is not None else None
        except (TypeError, ValueError, AttributeError):
            return RejectedRecord(entity, str(record_id),
                                  f"lastModifiedDateTime {modified!r} is not an ISO-8601 timestamp", raw)
        return SourceRecord(entity, record_id, modified_at, payload)

    def get_work_order(self, work_order_id: int) -> dict[str, Any] | None:
        """The work order, or None when PW has no such id."""
        return self._decode_work_order(self._call("getWorkOrder", workOrderID=work_order_id), "getWorkOrder")

    # ---------------------------------------------------------------- writes
    def update_work_order(self, work_order_id: int, *, status: str | None = None, **fields: Any) -> dict[str, Any]:
        """Set fields (REST names) of a work order; fields left out keep their value. Idempotent."""
        changes = {**fields, **({"status": status} if status is not None else {})}
        wire, _ = self.schema.to_wire({"id": work_order_id, **changes}, self._work_order_type())
        return self._expect_work_order(self._call("updateWorkOrder", workOrder=wire), "updateWorkOrder")

    def close_work_order(self, work_order_id: int, *, category: str, closing_comments: str,
                         completed_date: str | None = None, start_date: str | None = None) -> dict[str, Any]:
        """Close a work order (status Completed). Idempotent: closing twice leaves it closed."""
        wrapper = self._call("closeWorkOrder", workOrderID=work_order_id, category=category,
                             closingComments=closing_comments, startDate=start_date, completedDate=completed_date)
        return self._expect_work_order(wrapper, "closeWorkOrder")

    def attach_note(self, work_order_id: int, note: str) -> dict[str, Any]:
        """Attach a note once, even when a retry follows a lost answer.

        A note is not idempotent, so before re-sending after an ambiguous failure (the
        request may have been applied, e.g. a dropped connection) the work order is re-read:
        if it now holds more copies of this note than before the first attempt, the earlier
        attempt landed and is not repeated.
        """
        before = self.get_work_order(work_order_id)
        if before is None:
            raise PermanentError(f"PropertyWare attachNoteToWorkOrder: work order {work_order_id} not found")
        baseline = _count_notes(before, note)
        sent = False

        def attempt() -> dict[str, Any]:
            nonlocal sent
            if sent:
                current = self._decode_work_order(self._attempt("getWorkOrder", {"workOrderID": work_order_id}),
                                                  "getWorkOrder")
                if current is not None and _count_notes(current, note) > baseline:
                    return current
            sent = True
            wrapper = self._attempt("attachNoteToWorkOrder", {"workOrderID": work_order_id, "note": note})
            return self._expect_work_order(wrapper, "attachNoteToWorkOrder")

        result: dict[str, Any] = self._with_retry(attempt)
        return result

    def echo(self, text: str) -> str:
        """PW's health check: the text back."""
        return self._call("echoString", arg=text).findtext(f"{{{NS}}}return") or ""

    # ---------------------------------------------------------------- plumbing
    @property
    def schema(self) -> WireSchema:
        if self._schema is None:
            self._schema = WireSchema(self._client().wsdl.types)
        return self._schema

    def _client(self) -> zeep.Client:
        """The zeep client, built on first use (its WSDL comes from the per-process cache)."""
        if self._zeep is None:
            try:
                document = _document(self.wsdl_url, self._transport)
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                raise _http_error(f"WSDL {self.wsdl_url}", status) from exc
            except _TRANSIENT as exc:
                raise RetryableError(f"PropertyWare WSDL {self.wsdl_url}: {type(exc).__name__}: {exc}") from exc
            except zeep.exceptions.Error as exc:
                raise PermanentError(f"PropertyWare WSDL {self.wsdl_url} is not usable: {exc}") from exc
            _pin_to_wsdl_origin(document, self.wsdl_url)
            self._zeep = zeep.Client(document, transport=self._transport, settings=_SETTINGS)
        return self._zeep

    def _item_type(self, read: EntityRead) -> Any:
        return self.schema.field(self.schema.element_type(f"{read.operation}Response"), read.item).xsd_type

    def _work_order_type(self) -> Any:
        return self.schema.field(self.schema.element_type("updateWorkOrder"), "workOrder").xsd_type

    def _decode_work_order(self, wrapper: etree._Element, operation: str) -> dict[str, Any] | None:
        """The response's work order as a REST dict; None when it holds none."""
        element = wrapper.find(f"{{{NS}}}workOrder")
        if element is None:
            return None
        try:
            return self.schema.decode(element, self._work_order_type(), strict=False)
        except WireValueError as exc:
            raise PermanentError(f"PropertyWare {operation}: malformed work order in the response: {exc}") from exc

    def _expect_work_order(self, wrapper: etree._Element, operation: str) -> dict[str, Any]:
        work_order = self._decode_work_order(wrapper, operation)
        if work_order is None:
            raise PermanentError(f"PropertyWare {operation}: the response holds no work order")
        return work_order

    def _call(self, operation: str, **params: Any) -> etree._Element:
        """One operation under retry and the breaker; returns the ``<operation>Response`` element."""
        element: etree._Element = self._with_retry(lambda: self._attempt(operation, params))
        return element

    def _with_retry(self, fn: Callable[[], Any]) -> Any:
        return call_with_retry(fn, policy=self.retry, breaker=self.breaker, stats=self.stats)

    def _attempt(self, operation: str, params: dict[str, Any]) -> etree._Element:
        client = self._client()
        self.stats.add(calls=1)
        try:
            response = getattr(client.service, operation)(**params, _soapheaders=self._soap_headers(client))
        except _TRANSIENT as exc:
            raise RetryableError(f"PropertyWare {operation}: {type(exc).__name__}: {exc}") from exc
        except (zeep.exceptions.ValidationError, TypeError) as exc:
            raise PermanentError(f"PropertyWare {operation}: invalid request: {exc}") from exc
        self.stats.add(bytes_received=len(response.content))
        return self._read(operation, response)

    def _soap_headers(self, client: zeep.Client) -> list[Any] | None:
        if self._auth_mode != "header":
            return None
        username, password = self._credentials
        return [client.get_element(f"{{{NS}}}AuthHeader")(username=username, password=password)]

    def _read(self, operation: str, response: requests.Response) -> etree._Element:
        """Classify the HTTP answer: the response element, or a retryable/permanent error."""
        status = response.status_code
        if status == 429:
            self.stats.add(rate_limited=1)
            raise RetryableError(f"PropertyWare {operation}: HTTP 429 too many requests")
        body = self._body(operation, response.content)
        if body is None:
            if status >= 500 or status == 200:
                raise RetryableError(f"PropertyWare {operation}: HTTP {status} without a readable SOAP response")
            raise _http_error(operation, status)
        fault = body.find(f"{{{SOAP_ENV_NS}}}Fault")
        if fault is not None:
            raise _fault_error(operation, fault)
        if status != 200:
            raise _http_error(operation, status)
        element = next(body.iterchildren(etree.Element), None)
        if element is None or element.tag != f"{{{NS}}}{operation}Response":
            raise PermanentError(f"PropertyWare {operation}: unexpected response element "
                                 f"{None if element is None else element.tag}")
        return element

    def _body(self, operation: str, content: bytes) -> etree._Element | None:
        """The SOAP Body, parsed hardened; None when the content is not a SOAP envelope."""
        try:
            # Bytes, not str, so the XML declaration's encoding applies (zeep's annotation says str).
            root = parse_xml(content, self._transport, settings=_SETTINGS)  # type: ignore[arg-type]
        except (DTDForbidden, EntitiesForbidden) as exc:
            raise PermanentError(f"PropertyWare {operation}: refused a response with DTD/entities: {exc}") from exc
        except XMLSyntaxError:
            return None
        return root.find(f"{{{SOAP_ENV_NS}}}Body")


def _pin_to_wsdl_origin(document: Document, wsdl_url: str) -> None:
    """Refuse a WSDL whose service addresses leave its own origin: every call carries the password."""
    for service in document.services.values():
        for port in service.ports.values():
            address = port.binding_options.get("address")
            if address is None:
                continue
            try:
                check_same_origin(address, wsdl_url)
            except EndpointError as exc:
                raise PermanentError(f"PropertyWare WSDL refused: {exc}") from exc


def _fault_error(operation: str, fault: etree._Element) -> Exception:
    code = (fault.findtext("faultcode") or "").rpartition(":")[2]
    message = fault.findtext("faultstring") or "(no faultstring)"
    if code.startswith("Server"):
        return RetryableError(f"PropertyWare {operation}: SOAP fault {code}: {message}")
    if code == "Client.Authentication":
        return PermanentError(f"PropertyWare {operation}: authentication failed ({message}); check the "
                              "PropertyWare username and password")
    return PermanentError(f"PropertyWare {operation}: SOAP fault {code or '(no faultcode)'}: {message}")


def _http_error(operation: str, status: int) -> Exception:
    if status >= 500:
        return RetryableError(f"PropertyWare {operation}: HTTP {status}")
    if status in (401, 403):
        return PermanentError(f"PropertyWare {operation}: HTTP {status}: credentials refused; check the "
                              "PropertyWare username and password")
    return PermanentError(f"PropertyWare {operation}: HTTP {status}")


def _int_text(element: etree._Element, name: str) -> int | None:
    text = element.findtext(f"{{{NS}}}{name}")
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _count_notes(work_order: dict[str, Any], note: str) -> int:
    notes = work_order.get("notes")
    return sum(1 for n in notes if isinstance(n, dict) and n.get("note") == note) if isinstance(notes, list) else 0
