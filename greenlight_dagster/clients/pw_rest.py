"""PropertyWare REST v1 client: key headers, offset paging, paced and retried calls, writes that do not repeat.

The same reading interface as the SOAP client (`iter_records(entity, modified_from=,
modified_to=)` yielding `SourceRecord | RejectedRecord`), so the ingestion assets do not know
which API they read through; records arrive with REST names already, which are our vocabulary.

* **Paging**: ``offset``/``limit`` with ``orderby=id`` - the document gives no default order,
  and without one a record could move between pages. Reading stops at a short page, at
  ``X-Total-Count``, or at an empty page (the end guard: a total that never arrives must not
  loop the read forever).
* **One bad record**: each element is checked on its own (an object with an integer ``id``,
  a parseable ``lastModifiedDateTime``); one that fails is a `RejectedRecord` with the reason
  and its JSON, and the page carries on. A page that is not a JSON array is a retryable error
  (a gateway's HTML page, a truncated body).
* **Resilience**: resets, timeouts, 5xx and 429 are retried with exponential backoff and full
  jitter (`resilience.RetryPolicy`; PropertyWare sends no ``Retry-After``) under the run's
  circuit breaker; a `TokenBucket` paces calls at ``requests_per_second`` (default: the documented
  10 a second), slows down on every 429 and wins the pace back call by call (decision 0023).
  401/403/400 raise `PermanentError` with the API's ``userMessage``.
* **Writes**: a create (``POST /workorders``) is not idempotent, so after it was sent an
  ambiguous failure (reset, timeout, 5xx, a 2xx whose body is not the answer) raises
  `AmbiguousWriteError` instead of resending; a close (``PUT closeworkorder``) is idempotent and
  retried, that 2xx included. Redirects are never followed
  on writes: a redirect would resend the body to another host.
* **Secrets**: the key travels in headers only; `repr` shows the URL and client id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from greenlight_dagster.clients.pw_entities import PwEntity, pw_entity
from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.resilience import (
    AmbiguousWriteError,
    CallStats,
    CircuitBreaker,
    PermanentError,
    RateLimited,
    RetryableError,
    RetryPolicy,
    StopRetrying,
    TokenBucket,
    call_with_retry,
)
from greenlight_dagster.core.fields import parse_timestamp

MAX_LIMIT = 500
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_LOG = logging.getLogger(__name__)


def format_utc(value: datetime) -> str:
    """The document's date-time format ``yyyy-MM-dd'T'HH:mm:ssXXX`` in UTC (naive datetimes are UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PropertyWareRestClient:
    """One PropertyWare REST v1 connection; `stats` counts its calls, retries and bytes."""

    records_carry_modified_time = True
    """Every REST record has ``lastModifiedDateTime``: the mark comes from the records themselves."""
    read_until: datetime | None = None
    """Only SOAP reads earn a mark from their window; REST never sets it."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, system_id: str, *,
                 timeout: float = 90.0, page_size: int = MAX_LIMIT, retry: RetryPolicy | None = None,
                 log: Any = None, breaker: CircuitBreaker | None = None, requests_per_second: float = 10.0) -> None:
        if not 1 <= page_size <= MAX_LIMIT:
            raise ValueError(f"page_size must be within 1-{MAX_LIMIT}, got {page_size}")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.page_size = page_size
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.log = log or _LOG
        self.breaker = breaker or CircuitBreaker("PropertyWare", on_open=self.log.warning)
        self.stats = CallStats()
        # One call at a time per second's share: a burst would meet the server's per-second window.
        self._bucket = TokenBucket(requests_per_second * 60.0, capacity=1.0)
        self._session = requests.Session()
        self._session.headers.update({
            "x-propertyware-client-id": client_id, "x-propertyware-client-secret": client_secret,
            "x-propertyware-system-id": system_id, "Accept": "application/json"})

    def __repr__(self) -> str:  # never show the secret
        return f"PropertyWareRestClient({self.base_url!r}, client_id={self.client_id!r})"

    # ---------------------------------------------------------------- reads
    def reads_everything(self, entity: str) -> bool:
        """Never: every REST list filters on ``lastModifiedDateTimeStart/End``."""
        pw_entity(entity)
        return False

    def iter_records(self, entity: str, *, modified_from: datetime | None = None,
                     modified_to: datetime | None = None) -> Iterator[SourceRecord | RejectedRecord]:
        """Every record of ``entity`` modified within [from, to] (inclusive, UTC), page by page."""
        described = pw_entity(entity)
        query: dict[str, Any] = {**dict(described.rest_query), "orderby": "id", "limit": self.page_size}
        if modified_from is not None:
            query["lastModifiedDateTimeStart"] = format_utc(modified_from)
        if modified_to is not None:
            query["lastModifiedDateTimeEnd"] = format_utc(modified_to)
        offset = 0
        while True:
            items, total = self._page(described, {**query, "offset": offset})
            for item in items:
                yield _normalise(described, item)
            offset += len(items)
            if not items or len(items) < self.page_size or (total is not None and offset >= total):
                return

    def _page(self, entity: PwEntity, query: Mapping[str, Any]) -> tuple[list[Any], int | None]:
        def read(response: requests.Response) -> tuple[list[Any], int | None]:
            try:
                items = response.json()
            except ValueError:
                raise RetryableError(f"PropertyWare GET {entity.rest_path}: the answer is not JSON "
                                     f"({len(response.content)} bytes)") from None
            if not isinstance(items, list):
                raise RetryableError(f"PropertyWare GET {entity.rest_path}: expected a JSON array, got "
                                     f"{type(items).__name__}")
            total = response.headers.get("X-Total-Count")
            return items, int(total) if total is not None and total.isdigit() else None

        return self._call("GET", entity.rest_path, read, params=query)

    def get_work_order(self, work_order_id: int) -> dict[str, Any] | None:
        """The work order, or None when PropertyWare has no such id."""
        def read(response: requests.Response) -> dict[str, Any] | None:
            return None if response.status_code == 404 else _object(response, "GET /workorders/{id}")

        return self._call("GET", f"/workorders/{work_order_id}", read, missing_ok=True)

    # ---------------------------------------------------------------- writes
    def create_work_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /workorders`` (a SaveWorkOrder: ``buildingID`` required, no status); the created work order.

        Not idempotent: once the request may have reached PropertyWare, a failure raises
        `AmbiguousWriteError` and the caller looks for the work order before creating again.
        """
        def read(response: requests.Response) -> dict[str, Any]:
            created = _object(response, "POST /workorders")
            if type(created.get("id")) is not int:
                raise PermanentError(f"PropertyWare POST /workorders: HTTP {response.status_code} answer has no "
                                     "integer id")
            return created

        return self._call("POST", "/workorders", read, json_body=dict(body), idempotent=False)

    def close_work_order(self, work_order_id: int, *, category: str, closing_comments: str,
                         completed_date: str | None = None, start_date: str | None = None,
                         vendor_id: int | None = None) -> dict[str, Any]:
        """Close through ``PUT /workorders/closeworkorder/{id}``; the closed work order. Idempotent.

        The API requires a time card entry naming a vendor: ``vendor_id``, else the work order's
        first assigned vendor; a work order with neither cannot be closed through REST.
        """
        vendor = vendor_id if vendor_id is not None else self._assigned_vendor(work_order_id)
        body: dict[str, Any] = {"comments": closing_comments, "timeCardEntry": [{"vendorID": vendor}]}
        for key, value in (("category", category), ("completedDate", completed_date), ("startDate", start_date)):
            if value:
                body[key] = value

        def read(response: requests.Response) -> dict[str, Any]:
            entity = _object(response, "PUT /workorders/closeworkorder/{id}")
            body = entity.get("body")
            closed: dict[str, Any] = body if isinstance(body, dict) else entity
            if type(closed.get("id")) is not int:
                raise PermanentError(f"PropertyWare PUT /workorders/closeworkorder/{{id}}: HTTP "
                                     f"{response.status_code} answer holds no work order")
            return closed

        return self._call("PUT", f"/workorders/closeworkorder/{work_order_id}", read, json_body=body)

    def _assigned_vendor(self, work_order_id: int) -> int:
        work_order = self.get_work_order(work_order_id)
        if work_order is None:
            raise PermanentError(f"PropertyWare close: work order {work_order_id} not found")
        vendors = work_order.get("assignedVendors")
        first = vendors[0] if isinstance(vendors, list) and vendors and isinstance(vendors[0], dict) else {}
        vendor = first.get("id")
        if type(vendor) is not int:
            raise PermanentError(f"PropertyWare close: work order {work_order_id} has no assigned vendor, and REST "
                                 "closes need a time card entry naming one")
        return vendor

    def health(self) -> bool:
        """``GET /health`` answered OK."""
        return bool(self._call("GET", "/health", lambda r: r.status_code == 200))

    # ---------------------------------------------------------------- plumbing
    def _call(self, method: str, path: str, read: Callable[[requests.Response], Any], *,
              params: Mapping[str, Any] | None = None, json_body: Mapping[str, Any] | None = None,
              idempotent: bool = True, missing_ok: bool = False) -> Any:
        def attempt() -> Any:
            waited = self._bucket.acquire()
            self.stats.add(calls=1, wait_seconds=waited)
            try:
                response = self._session.request(method, self.base_url + path, params=params, json=json_body,
                                                 timeout=self.timeout, allow_redirects=method == "GET")
            except requests.ConnectTimeout as exc:
                raise RetryableError(f"PropertyWare {method} {path}: connect timeout: {exc}") from exc
            except _TRANSIENT as exc:
                if not idempotent:
                    raise StopRetrying(AmbiguousWriteError(f"PropertyWare {method} {path}: {type(exc).__name__}; "
                                                            "the write may have been applied")) from exc
                raise RetryableError(f"PropertyWare {method} {path}: {type(exc).__name__}: {exc}") from exc
            self.stats.add(bytes_received=len(response.content))
            status = response.status_code
            if status == 429:
                self.stats.add(rate_limited=1)
                self._bucket.slow_down()
                raise RateLimited(f"PropertyWare {method} {path}: HTTP 429 too many requests")
            self._bucket.speed_up()
            if status >= 500:
                if not idempotent:
                    raise StopRetrying(AmbiguousWriteError(f"PropertyWare {method} {path}: HTTP {status}; the "
                                                            "write may have been applied"))
                raise RetryableError(f"PropertyWare {method} {path}: HTTP {status}: {_message(response)}")
            if status == 404 and missing_ok:
                return read(response)
            if status >= 300:
                raise _refused(method, path, response)
            if method == "GET":
                return read(response)
            try:
                return read(response)
            except PermanentError as exc:  # a 2xx that is not the answer (a proxy's page, cut short): maybe applied
                if not idempotent:
                    raise StopRetrying(AmbiguousWriteError(f"{exc}; the write may have been applied")) from exc
                raise RetryableError(f"{exc}; the write is repeatable and is sent again") from exc

        try:
            return call_with_retry(attempt, policy=self.retry, breaker=self.breaker, stats=self.stats)
        except StopRetrying as stop:
            self.stats.add(failures=1)
            self.breaker.record_failure()
            raise stop.error from stop.__cause__


def _message(response: requests.Response) -> str:
    """The ``ErrorResponse`` ``userMessage`` (and field errors), or the start of whatever came instead."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or "(no body)"
    if not isinstance(body, dict):
        return str(body)[:200]
    errors = "; ".join(f"{e.get('key')}: {e.get('message')}" for e in body.get("errors") or () if isinstance(e, dict))
    return f"{body.get('userMessage') or body.get('errorCode') or body}" + (f" ({errors})" if errors else "")


class RestRefused(PermanentError):
    """PropertyWare refused the request (4xx); ``status_code`` and ``errors`` as it answered them."""

    def __init__(self, message: str, status_code: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.errors = errors


def _refused(method: str, path: str, response: requests.Response) -> RestRefused:
    status = response.status_code
    hint = {401: "; check GREENLIGHT_PW_CLIENT_ID, GREENLIGHT_PW_CLIENT_SECRET and GREENLIGHT_PW_SYSTEM_ID",
            403: "; the API key lacks this permission"}.get(status, "")
    try:
        body = response.json()
    except ValueError:
        body = None
    listed = body.get("errors") if isinstance(body, dict) else None
    errors = [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []
    return RestRefused(f"PropertyWare {method} {path}: HTTP {status}: {_message(response)}{hint}", status, errors)


def _object(response: requests.Response, operation: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PermanentError(f"PropertyWare {operation}: HTTP {response.status_code} without a JSON object "
                             f"({response.text[:100]!r})")
    return body


def _normalise(entity: PwEntity, item: Any) -> SourceRecord | RejectedRecord:
    raw = json.dumps(item, default=str)
    if not isinstance(item, dict):
        return RejectedRecord(entity.name, None, f"{entity.name} record is not a JSON object", raw)
    record_id = item.get("id")
    key = None if record_id is None else str(record_id)
    if record_id is None:
        return RejectedRecord(entity.name, None, f"{entity.name} record without an id", raw)
    if type(record_id) is not int:
        return RejectedRecord(entity.name, key, f"id {record_id!r} is not an integer", raw)
    for name, wanted in entity.record_filter:
        if item.get(name) != wanted:
            return RejectedRecord(entity.name, key, f"{name} is {item.get(name)!r}, not {wanted!r}", raw)
    modified = item.get("lastModifiedDateTime")
    modified_at = parse_timestamp(modified) if modified is not None else None
    if modified is not None and modified_at is None:
        return RejectedRecord(entity.name, key, f"lastModifiedDateTime {modified!r} is not an ISO-8601 timestamp", raw)
    return SourceRecord(entity.name, record_id, modified_at, item)
