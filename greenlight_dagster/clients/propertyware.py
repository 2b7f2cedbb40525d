"""PropertyWare PWServices client: the vendor's legacy rpc/encoded SOAP service, paged reads, resilient writes.

Requests are built and answers read by `pw_wire` from the packaged signatures
(`pw_legacy`), not by zeep: zeep's rpc/encoded support stops short of what an Axis 1 server
answers (no ``multiRef``/``href`` resolution, python-zeep issue 326), and per-record strict
decoding needs the raw elements anyway. The WSDL is read once per process for what only it can
say: the service's address, and whether it has the operations the sync calls.

What the old bridge got wrong and this client is built against:

* **Socket hang-ups.** Keep-alive is off (``Connection: close``): PW drops idle pooled
  connections. Resets, timeouts, HTTP 5xx/429 and SOAP ``Server`` faults are retried with
  exponential backoff and full jitter (`resilience.RetryPolicy`); a circuit breaker ends a run
  fast when PW is down. Auth and ``Client`` faults are never retried: they raise `PermanentError`.
* **Memory and misbehaving servers.** `iter_records` asks for one page, yields its records,
  then asks for the next. The page size is the server's (learned per operation from the fullest
  page seen); an empty page, or one shorter than that, ends the read. A server
  that serves the same page again, or pages beyond ``max_pages``, or an answer over
  ``max_response_bytes``, ends it with a `PermanentError` naming the cause, never a loop.
* **One bad record.** Each record is decoded on its own and strictly; a record that fails
  becomes a `RejectedRecord` with the reason and its XML, and the rest of the page carries on.
* **XML attacks.** Answers are parsed without DTDs, entities, network or huge trees; an answer
  declaring a DTD is refused once as hostile (`PermanentError`), not retried.
* **No modification time.** The legacy structs carry none, so records come with
  ``modified_at=None``; `records_carry_modified_time` tells the ingestion to keep its
  high-water mark from the request window instead: `read_until`, the window's end, which for
  an open window is the service's own clock (the HTTP ``Date`` of its first answer, so the mark
  is in the time the service filters by) and never past ours. `reads_everything` names the
  entities whose operation takes no criteria (``getAllPortfolios()``, ``getVendors()``): full reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from lxml import etree

from greenlight_dagster.clients import pw_wire
from greenlight_dagster.clients.pw_entities import LEGACY_DATE, PwEntity, pw_entity
from greenlight_dagster.clients.pw_legacy import TypeRef, from_legacy, signatures, to_legacy, to_legacy_date
from greenlight_dagster.clients.pw_wire import NS, SOAP_ENV_NS, Decoder, HostileXML, WireValueError, format_utc
from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.resilience import (
    CallStats,
    CircuitBreaker,
    PermanentError,
    RateLimited,
    RetryableError,
    RetryPolicy,
    call_with_retry,
)
from greenlight_dagster.core.endpoints import EndpointError, check_same_origin

AUTH_MODES = ("basic", "header")
_LOG = logging.getLogger(__name__)
#: Transport failures after which the request may or may not have reached PW.
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
_WSDLSOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
#: A page of 100 work orders is ~150 KB; a WSDL ~0.5 MB. Anything near this is not PropertyWare.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: 300,000 work orders at 100 a page are 3,000 pages; a read past this is a server that never ends.
DEFAULT_MAX_PAGES = 20_000
_CHUNK = 64 * 1024


class _Service:
    """What the WSDL says that the client needs: the endpoint and the operations it offers."""

    def __init__(self, endpoint: str, operations: frozenset[str]) -> None:
        self.endpoint = endpoint
        self.operations = operations
        self.page_sizes: dict[str, int] = {}
        """Per search operation, the most records one page has held: the service's page size, learned,
        so that a later read ends on a short first page instead of asking for an empty second one."""


_SERVICES: dict[str, _Service] = {}
_SERVICES_LOCK = threading.Lock()


class PropertyWareClient:
    """One PropertyWare connection; `stats` counts its calls, retries and bytes."""

    records_carry_modified_time = False
    """The legacy structs have no last-modified field: the mark comes from the request window."""

    #: Retried calls one write may make: `attach_note` reads, then reads and writes on every attempt.
    CALLS_PER_WRITE = 3

    @classmethod
    def longest_write_seconds(cls, timeout: float, retry: RetryPolicy) -> float:
        """The worst case of one write (`core.ledger.orphan_grace`).

        ``timeout`` bounds the connect and, separately, the read of each request (requests'
        scalar timeout), so one attempt may take twice it.
        """
        return cls.CALLS_PER_WRITE * retry.worst_case_seconds(2 * timeout)

    def __init__(self, wsdl_url: str, username: str, password: str, *, timeout: float = 90.0,
                 retry: RetryPolicy | None = None, log: Any = None, breaker: CircuitBreaker | None = None,
                 auth_mode: str = "basic", max_pages: int = DEFAULT_MAX_PAGES,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        if auth_mode not in AUTH_MODES:
            raise ValueError(f"auth_mode must be one of {AUTH_MODES}, got {auth_mode!r}")
        self.wsdl_url = wsdl_url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.log = log or _LOG
        self.breaker = breaker or CircuitBreaker("PropertyWare", on_open=self.log.warning)
        self.stats = CallStats()
        self.max_pages = max_pages
        self.max_response_bytes = max_response_bytes
        self.read_until: datetime | None = None
        """After a read: the end of the window it covered (see the module docstring)."""
        self._server_time: datetime | None = None
        self._auth_mode = auth_mode
        self._credentials = (username, password)
        self._session = requests.Session()
        self._session.headers["Connection"] = "close"
        if auth_mode == "basic":
            self._session.auth = (username, password)

    def __repr__(self) -> str:  # never show the password
        return f"PropertyWareClient({self.wsdl_url!r}, user={self._credentials[0]!r}, auth_mode={self._auth_mode!r})"

    # ---------------------------------------------------------------- reads
    def reads_everything(self, entity: str) -> bool:
        """Whether reading ``entity`` is always a full read (its operation takes no search criteria)."""
        return not signatures().takes_criteria(pw_entity(entity).soap_operation)

    def iter_records(self, entity: str, *, modified_from: datetime | None = None,
                     modified_to: datetime | None = None,
                     modified_before: datetime | None = None) -> Iterator[SourceRecord | RejectedRecord]:
        """Every record of ``entity`` modified within [from, to] (inclusive, UTC), page by page;
        ``modified_before`` is an exclusive end instead (a half-open backfill window: records carry
        no time here, so the service must leave the end out, nobody can filter afterwards).

        For an entity whose operation takes no criteria the window cannot be asked for: every
        record is read (`reads_everything`).
        """
        spec = pw_entity(entity)
        self.read_until = None
        if self.reads_everything(entity):
            answer = self._call(spec.soap_operation)
            self._mark_read(modified_to)
            yield from self._records(spec, answer)
            return
        criteria: dict[str, Any] = dict(spec.soap_criteria)
        if modified_from is not None:
            criteria["lastModifiedOnOrAfter"] = format_utc(modified_from)
        if modified_to is not None:
            criteria["lastModifiedOnOrBefore"] = format_utc(modified_to)
        if modified_before is not None:
            criteria["lastModifiedBefore"] = format_utc(modified_before)
        modified_to = modified_to or modified_before
        previous: list[str | None] | None = None
        page_sizes = self._service().page_sizes
        full_page = page_sizes.get(spec.soap_operation, 0)
        for page_number in range(1, self.max_pages + 1):
            answer = self._call(spec.soap_operation, criteria={**criteria, "pageNumber": page_number})
            if page_number == 1:
                self._mark_read(modified_to)
            items = _items(answer)
            if not items:
                return
            keys = [_record_key(answer.decoder, item) for item in items]
            if keys == previous:
                raise PermanentError(f"PropertyWare {spec.soap_operation}: page {page_number} is page "
                                     f"{page_number - 1} again; the server ignores pageNumber, stopping the read")
            previous = keys
            yield from self._records(spec, answer)
            full_page = page_sizes[spec.soap_operation] = max(full_page, len(items))
            if len(items) < full_page:  # shorter than the server's page size: the last page
                return
        raise PermanentError(f"PropertyWare {spec.soap_operation}: more than {self.max_pages} pages without an "
                             "empty one; the server pages forever (raise max_pages only if the account is that big)")

    def _mark_read(self, modified_to: datetime | None) -> None:
        """The read covers changes up to ``modified_to``, or up to the service's time of its first answer."""
        now = datetime.now(UTC)
        end = modified_to or self._server_time or now
        self.read_until = min(end if end.tzinfo else end.replace(tzinfo=UTC), now)

    def _records(self, spec: PwEntity, answer: _Answer) -> Iterator[SourceRecord | RejectedRecord]:
        wanted = dict(spec.record_filter)
        for item in _items(answer):
            record = self._normalise(spec, answer.decoder, item)
            if isinstance(record, SourceRecord) and any(record.payload.get(k) != v for k, v in wanted.items()):
                continue
            yield record

    def _normalise(self, spec: PwEntity, decoder: Decoder, item: etree._Element) -> SourceRecord | RejectedRecord:
        entity = spec.name
        try:
            element = decoder.target(item, spec.soap_struct)
        except WireValueError as exc:
            return RejectedRecord(entity, None, f"malformed {entity} record: {exc}", etree.tostring(item).decode())
        raw = etree.tostring(element, encoding="unicode")
        key = next((c.text for c in element.iterchildren(etree.Element) if etree.QName(c).localname == "ID"), None)
        try:
            legacy = decoder.value(item, TypeRef(spec.soap_struct), spec.soap_struct)
        except WireValueError as exc:
            return RejectedRecord(entity, key, f"malformed {entity} record: {exc}", raw)
        if not isinstance(legacy, dict):
            return RejectedRecord(entity, key, f"{entity} record is not a {spec.soap_struct} struct", raw)
        payload = from_legacy(spec.soap_struct, legacy)
        record_id = payload.get("id")
        if record_id is None:
            return RejectedRecord(entity, key, f"{entity} record without an ID", raw)
        if type(record_id) is not int:
            return RejectedRecord(entity, str(record_id), f"ID {record_id!r} is not an integer", raw)
        return SourceRecord(entity, record_id, None, payload)

    def get_work_order(self, work_order_id: int) -> dict[str, Any] | None:
        """The work order (REST names), or None when PW has no such id."""
        return self._work_order(self._call("getWorkOrder", criteria={"ids": [work_order_id]}), "getWorkOrder")

    # ---------------------------------------------------------------- writes
    def update_work_order(self, work_order_id: int, *, status: str | None = None, **fields: Any) -> dict[str, Any]:
        """Set fields (REST names) of a work order; fields left out keep their value. Idempotent."""
        changes = {**fields, **({"status": status} if status is not None else {})}
        legacy = to_legacy("WorkOrder", {"id": work_order_id, **changes})
        lost = sorted(set(changes) - set(from_legacy("WorkOrder", legacy)))
        if lost:
            raise PermanentError(f"PropertyWare updateWorkOrder cannot carry {', '.join(lost)}: the legacy "
                                 "WorkOrder has no field for them (or not of that type)")
        updated = self._work_order(self._call("updateWorkOrder", workOrder=legacy), "updateWorkOrder")
        if updated is None:
            raise PermanentError("PropertyWare updateWorkOrder: the response holds no work order")
        return updated

    def close_work_order(self, work_order_id: int, *, category: str, closing_comments: str,
                         completed_date: str | None = None, start_date: str | None = None) -> None:
        """Close a work order (status Completed). Idempotent.

        ``closeWorkOrder`` answers a boolean and nothing else: true is the close. The work order is
        not read back: no caller needs it, and at 300 ms a call the re-read was a quarter of a day's
        PW calls in the daily-sync benchmark (60 of 258)."""
        answer = self._call("closeWorkOrder", workOrderID=str(work_order_id), category=category,
                            closingComments=closing_comments, startDate=to_legacy_date(start_date, LEGACY_DATE),
                            completedDate=to_legacy_date(completed_date, LEGACY_DATE))
        if answer.result() is not True:
            raise PermanentError(f"PropertyWare closeWorkOrder: work order {work_order_id} was not closed "
                                 f"(the service answered {answer.result()!r})")

    def attach_note(self, work_order_id: int, note: str) -> dict[str, Any]:
        """Attach a note once, even when a retry follows a lost answer; the note as attached.

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
        criteria = {"criteria": {"ids": [work_order_id]}}

        def attempt() -> dict[str, Any]:
            nonlocal sent
            if sent:
                current = self._work_order(self._attempt("getWorkOrder", criteria), "getWorkOrder")
                if current is not None and _count_notes(current, note) > baseline:
                    return {"note": note}
            sent = True
            answer = self._attempt("attachNoteToWorkOrder",
                                   {"note": {"body": note}, "workOrder": {"ID": work_order_id}})
            attached = answer.result()
            if not isinstance(attached, dict):
                raise PermanentError("PropertyWare attachNoteToWorkOrder: the response holds no note")
            return {"note": attached.get("body"), "createdDateTime": from_legacy("WorkOrder", {
                "createdDate": attached.get("date")}).get("createdDateTime")}

        result: dict[str, Any] = self._with_retry(attempt)
        return result

    def echo(self, text: str) -> str:
        """PW's health check: the text back."""
        result = self._call("echoString", arg=text).result()
        return result if isinstance(result, str) else ""

    # ---------------------------------------------------------------- plumbing
    def _work_order(self, answer: _Answer, operation: str) -> dict[str, Any] | None:
        try:
            legacy = answer.result()
        except WireValueError as exc:
            raise PermanentError(f"PropertyWare {operation}: malformed work order in the response: {exc}") from exc
        if legacy is None:
            return None
        if not isinstance(legacy, dict):
            raise PermanentError(f"PropertyWare {operation}: the response is not a WorkOrder")
        return from_legacy("WorkOrder", legacy)

    def _service(self) -> _Service:
        """The endpoint and operations from the WSDL, read once per URL per process."""
        with _SERVICES_LOCK:
            if self.wsdl_url not in _SERVICES:
                _SERVICES[self.wsdl_url] = self._with_retry(self._load_wsdl)
            return _SERVICES[self.wsdl_url]

    def _load_wsdl(self) -> _Service:
        content = self._get(self.wsdl_url, f"WSDL {self.wsdl_url}")
        try:
            root = pw_wire.parse_xml(content)
        except HostileXML as exc:
            raise PermanentError(f"PropertyWare WSDL {self.wsdl_url}: refused as hostile: {exc}") from exc
        except etree.XMLSyntaxError as exc:
            raise PermanentError(f"PropertyWare WSDL {self.wsdl_url} is not XML: {exc}") from exc
        address = root.find(f".//{{{_WSDLSOAP_NS}}}address")
        operations = frozenset(op.get("name", "")
                               for op in root.iterfind(f"{{{_WSDL_NS}}}portType/{{{_WSDL_NS}}}operation"))
        if address is None or not address.get("location") or not operations:
            raise PermanentError(f"PropertyWare WSDL {self.wsdl_url} names no SOAP address or operations: "
                                 "is GREENLIGHT_PW_WSDL_URL the PWServices WSDL (…/pw/services/PWServices?wsdl)?")
        endpoint = str(address.get("location"))
        if urlsplit(endpoint).scheme not in ("http", "https"):
            raise PermanentError(f"PropertyWare WSDL {self.wsdl_url}: service address {endpoint!r} is not http(s)")
        try:  # every call carries the password: never to a host the WSDL's own server did not name itself
            check_same_origin(endpoint, self.wsdl_url)
        except EndpointError as exc:
            raise PermanentError(f"PropertyWare WSDL refused: {exc}") from exc
        return _Service(endpoint, operations)

    def _call(self, operation: str, **arguments: Any) -> _Answer:
        """One operation under retry and the breaker."""
        answer: _Answer = self._with_retry(lambda: self._attempt(operation, arguments))
        return answer

    def _with_retry(self, fn: Callable[[], Any]) -> Any:
        return call_with_retry(fn, policy=self.retry, breaker=self.breaker, stats=self.stats)

    def _attempt(self, operation: str, arguments: dict[str, Any]) -> _Answer:
        service = self._service()
        if operation not in service.operations:
            raise PermanentError(f"PropertyWare's WSDL at {self.wsdl_url} has no operation {operation}")
        try:
            message = pw_wire.request(operation, arguments, self._auth_header())
        except (ValueError, TypeError) as exc:
            raise PermanentError(f"PropertyWare {operation}: invalid request: {exc}") from exc
        self.stats.add(calls=1)
        try:
            response = self._session.post(service.endpoint, data=message, timeout=self.timeout, stream=True,
                                          headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
        except _TRANSIENT as exc:
            raise RetryableError(f"PropertyWare {operation}: {type(exc).__name__}: {exc}") from exc
        content = self._read(response, operation)
        self._server_time = _http_date(response.headers.get("Date"))
        return self._answer(operation, response.status_code, content)

    def _get(self, url: str, what: str) -> bytes:
        self.stats.add(calls=1)
        try:
            response = self._session.get(url, timeout=self.timeout, stream=True)
        except _TRANSIENT as exc:
            raise RetryableError(f"PropertyWare {what}: {type(exc).__name__}: {exc}") from exc
        content = self._read(response, what)
        if response.status_code != 200:
            raise _http_error(what, response.status_code)
        return content

    def _read(self, response: requests.Response, what: str) -> bytes:
        """The body, at most ``max_response_bytes`` of it: a bigger answer is refused, not buffered."""
        with response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_response_bytes:
                raise PermanentError(f"PropertyWare {what}: answer of {int(declared):,} bytes is over the "
                                     f"{self.max_response_bytes:,}-byte limit")
            chunks, size = [], 0
            try:
                for chunk in response.iter_content(_CHUNK):
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise PermanentError(f"PropertyWare {what}: answer over the {self.max_response_bytes:,}-byte "
                                             "limit; refused")
                    chunks.append(chunk)
            except _TRANSIENT as exc:
                raise RetryableError(f"PropertyWare {what}: {type(exc).__name__}: {exc}") from exc
        self.stats.add(bytes_received=size)
        return b"".join(chunks)

    def _auth_header(self) -> str:
        if self._auth_mode != "header":
            return ""
        username, password = self._credentials
        return (f"<ns1:AuthHeader><username>{pw_wire.escape(username)}</username>"
                f"<password>{pw_wire.escape(password)}</password></ns1:AuthHeader>")

    def _answer(self, operation: str, status: int, content: bytes) -> _Answer:
        if status == 429:
            self.stats.add(rate_limited=1)
            raise RateLimited(f"PropertyWare {operation}: HTTP 429 too many requests")
        try:
            root = pw_wire.parse_xml(content)
        except HostileXML as exc:
            raise PermanentError(f"PropertyWare {operation}: refused a hostile answer ({exc})") from exc
        except etree.XMLSyntaxError:
            if status >= 500 or status == 200:
                raise RetryableError(f"PropertyWare {operation}: HTTP {status} without a readable SOAP response") \
                    from None
            raise _http_error(operation, status) from None
        body = root.find(f"{{{SOAP_ENV_NS}}}Body")
        if body is None:
            if status != 200:
                raise _http_error(operation, status)
            raise RetryableError(f"PropertyWare {operation}: the answer has no SOAP Body")
        fault = body.find(f"{{{SOAP_ENV_NS}}}Fault")
        if fault is not None:
            raise _fault_error(operation, fault)
        if status != 200:
            raise _http_error(operation, status)
        wrapper = next((el for el in body.iterchildren(etree.Element) if el.get("id") is None), None)
        if wrapper is None:  # a 200 with an empty Body: the operation may have run; only a repeat can tell
            raise RetryableError(f"PropertyWare {operation}: HTTP 200 whose SOAP Body holds no response")
        if etree.QName(wrapper).localname != f"{operation}Response":
            raise PermanentError(f"PropertyWare {operation}: unexpected response element {wrapper.tag}")
        return _Answer(operation, wrapper, Decoder(body, strict=False))


class _Answer:
    """A successful answer: the ``<opResponse>`` element and the decoder of its body's multiRefs."""

    def __init__(self, operation: str, wrapper: etree._Element, decoder: Decoder) -> None:
        self.operation = operation
        self.wrapper = wrapper
        self.decoder = decoder

    def returned(self) -> etree._Element | None:
        """The ``<opReturn>`` element (whatever its name: Axis names it after the operation)."""
        return next(self.wrapper.iterchildren(etree.Element), None)

    def result(self) -> Any:
        """The return value, decoded as the signatures declare it."""
        element = self.returned()
        returns = signatures().operation(self.operation).returns
        if element is None or returns is None:
            return None
        return self.decoder.value(element, returns, self.operation)


def _items(answer: _Answer) -> list[etree._Element]:
    """The array items of a search answer (each maybe an ``href`` to its multiRef)."""
    element = answer.returned()
    if element is None or element.get(pw_wire.XSI_NIL) in ("true", "1"):
        return []
    element = answer.decoder.target(element, answer.operation)
    return list(element.iterchildren(etree.Element))


def _http_date(value: str | None) -> datetime | None:
    """An HTTP ``Date`` header as an aware UTC datetime; None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _record_key(decoder: Decoder, item: etree._Element) -> str | None:
    """A record's ``ID`` text, to tell a page from the one before it."""
    try:
        element = decoder.target(item, "page")
    except WireValueError:
        return None
    return next((c.text for c in element.iterchildren(etree.Element) if etree.QName(c).localname == "ID"), None)


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


def _count_notes(work_order: dict[str, Any], note: str) -> int:
    notes = work_order.get("notes")
    return sum(1 for n in notes if isinstance(n, dict) and n.get("note") == note) if isinstance(notes, list) else 0


__all__ = ["AUTH_MODES", "NS", "PropertyWareClient"]
