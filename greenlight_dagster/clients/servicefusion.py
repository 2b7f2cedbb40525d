"""ServiceFusion REST client: OAuth2, paging, rate limiting, retries - and creates that never duplicate.

Reads (`ServiceFusionClient.iter_records`) stream page by page as `SourceRecord`s (payload =
the record as served, SF field names) or `RejectedRecord`s for records that cannot be keyed,
so one bad record never costs the rest of its page. Paging stops on ``currentPage >=
pageCount``: SF answers a page past the end with the last page again, so "until an empty
page" would loop forever. ``/jobs`` is always sorted (an unsorted ``GET /jobs`` is reported
to hang) and read newest-first, like customers: a record modified during the read moves to
the front, which can repeat a record at a page boundary but never skips one (ascending order
would shift every later record back by one and skip a record).

Writes follow the ledger's rule *at most one SF job per PW work order, ever*. SF has no
idempotency keys, so a create is retried only when the server provably did not act on it:

* the TCP connect failed (nothing was sent), or the answer was 429 (rate limited before any
  processing) or 401 (token refused; refreshed once and resent);
* anything else after the body was sent - a read timeout, a reset, a dropped connection, a
  5xx (SF may have committed before failing) - raises `AmbiguousWriteError` at once,
  without a retry, so the caller looks the record up (`find_jobs_by_po_number`) first;
* a 422 raises `ValidationFailed` with SF's ``[{field, message}]`` list;
* a 2xx whose body is not the created record - not JSON, not an object, no integer ``id`` (a
  proxy's HTML page, a truncated or empty body) - and a redirect (3xx) are ambiguous too: SF may
  have stored the record, and a 303 after a POST is even the usual way to say it did. Writes
  never follow redirects (``requests`` would turn a redirected POST into a GET of the list and
  report success). Decision 0013.

Authentication is OAuth2 ``client_credentials`` with the token cached until shortly before
it expires; on expiry or a 401 the refresh token is tried, then the credentials again. A
`TokenBucket` keeps under ``rate_limit_per_minute`` and believes the server's
``X-Rate-Limit-Remaining``/``-Reset`` when they are stricter; a 429 waits ``Retry-After``
when sent, else backs off exponentially. Every wait the server controls is bounded: a
``Retry-After`` that is not a finite, non-negative number is ignored and a long one is capped
(`RetryPolicy`); a window reset far in the future waits one window at most (`TokenBucket`).
Answers are read with a size cap (``max_response_bytes``) and a total read deadline, and a
list stops with an error when the server keeps announcing more pages than it first said it had
(plus growth), so a misbehaving server costs one failed read, never an endless one. Secrets and
tokens are never logged.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from urllib3.exceptions import ConnectTimeoutError

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
from greenlight_dagster.clients.sf_entities import JOB_EXPAND, SfEntity, sf_entity
from greenlight_dagster.core.fields import as_int, as_text, as_timestamp, parse_timestamp

T = TypeVar("T")
MAX_PER_PAGE = 50
#: Refresh a token this long before SF says it expires (capped at a tenth of its lifetime).
TOKEN_EXPIRY_MARGIN = 30.0
#: The largest answer read (a 50-record page with every expansion is well under 1 MiB).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
#: Pages a list may run beyond the page count its first answer announced (records added while it is read).
PAGE_GROWTH_ALLOWANCE = 10
#: The most pages one list is read for, whatever the server announces: 5 million records at 50 a page,
#: over ten times the largest account we rehearse (300,000 work orders).
MAX_LIST_PAGES = 100_000
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

_LOG = logging.getLogger(__name__)


class ValidationFailed(PermanentError):
    """SF refused a create with 422; ``errors`` is its list of ``{field, message}``."""

    def __init__(self, path: str, errors: list[dict[str, Any]]) -> None:
        detail = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, Mapping))
        super().__init__(f"POST {path} refused (422): {detail or errors!r}")
        self.errors = errors


class NotFoundError(PermanentError):
    """404: the record does not exist."""


class ResponseTooLarge(PermanentError):
    """An answer larger than ``max_response_bytes``: refused unread, whatever it holds."""


def _rfc3339(value: datetime) -> str:
    """SF's ``Y-m-d\\TH:i:sP``; whole seconds suffice because SF timestamps have no fraction."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _never_sent(exc: BaseException) -> bool:
    """True only when the TCP connect itself failed, so the request provably never reached SF."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ConnectTimeoutError)  # urllib3's NewConnectionError subclasses it


@dataclass(frozen=True)
class _Answer:
    """A fully read HTTP answer (status, headers, body), read under the size cap and deadline."""

    status_code: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not (empty, HTML, truncated, not UTF-8)."""
        return json.loads(self.content)


def _read_answer(resp: requests.Response, limit: int, deadline: float) -> _Answer:
    """Read a streamed answer whole, refusing more than ``limit`` bytes or reading past ``deadline``
    (monotonic): a server trickling bytes would otherwise hold the read forever, since the
    read timeout applies to each chunk, not to the whole body."""
    try:
        declared = as_int(resp.headers.get("Content-Length"))
        if declared is not None and declared > limit:
            raise ResponseTooLarge(f"{resp.request.method} {resp.url}: answer of {declared} bytes refused "
                                   f"(more than {limit})")
        chunks, size = [], 0
        for chunk in resp.iter_content(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(f"{resp.request.method} {resp.url}: answer refused after {limit} bytes")
            if time.monotonic() > deadline:
                raise requests.exceptions.ReadTimeout(f"answer still arriving after {size} bytes: read deadline passed")
            chunks.append(chunk)
        return _Answer(resp.status_code, resp.headers, b"".join(chunks))
    finally:
        resp.close()


def _created_record(resp: _Answer) -> tuple[dict[str, Any] | None, str]:
    """(the created record, "") when a create's answer is one with an integer id, else (None, why not)."""
    try:
        body = resp.json()
    except ValueError:
        return None, "the body is empty" if not resp.content.strip() else "the body is not JSON"
    if not isinstance(body, dict):
        return None, f"the body is a JSON {type(body).__name__}, not an object"
    if as_int(body.get("id")) is None:
        return None, f"the body has no integer id (id={body.get('id')!r})"
    return body, ""


def _raw(item: object) -> str:
    return json.dumps(item, default=str, ensure_ascii=False)


def _error_message(resp: _Answer) -> str:
    """SF's ``message`` (or OAuth ``error_description``) from an error answer, else its text."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, Mapping):
        return as_text(body.get("message") or body.get("error_description") or body.get("error")) or resp.text[:200]
    return resp.text[:200]


def _validation_errors(resp: _Answer) -> list[dict[str, Any]]:
    """SF's 422 array of ``{field, message}``; anything else is kept as one ``{field: None, message}``."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, list) and all(isinstance(e, dict) for e in body):
        return body
    return [{"field": None, "message": _error_message(resp)}]


def _retry_after(resp: _Answer) -> float | None:
    """``Retry-After`` in seconds; None (back off as usual) unless it is a finite, non-negative number."""
    try:
        seconds = float(resp.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class ServiceFusionClient:
    """A client of one SF account (one OAuth consumer); see the module docstring for the rules."""

    #: Retried calls one create may make: a token request, then the POST.
    CALLS_PER_WRITE = 2

    @staticmethod
    def request_timeouts(timeout: float) -> tuple[float, float]:
        """(connect, read) seconds of every request: a dead host is given up on sooner than a slow answer."""
        return min(timeout, 15.0), timeout

    @classmethod
    def longest_write_seconds(cls, timeout: float, retry: RetryPolicy) -> float:
        """The worst case of one create (`core.ledger.orphan_grace`): connect plus read timeout per attempt."""
        return cls.CALLS_PER_WRITE * retry.worst_case_seconds(sum(cls.request_timeouts(timeout)))

    def __init__(self, base_url: str, token_url: str, client_id: str, client_secret: str, *,
                 rate_limit_per_minute: int = 60, per_page: int = 50, timeout: float = 60.0,
                 retry: RetryPolicy | None = None, log: Any = None, breaker: CircuitBreaker | None = None,
                 max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._base_url = base_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._per_page = max(1, min(MAX_PER_PAGE, per_page))
        self._timeout = self.request_timeouts(timeout)
        self._max_response_bytes = max_response_bytes
        self._retry = retry or RetryPolicy()
        self._log = log or _LOG
        self._breaker = breaker or CircuitBreaker("servicefusion", on_open=self._log.warning)
        self._bucket = TokenBucket(rate_limit_per_minute)
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json", "User-Agent": "greenlight-sync"})
        self._token_lock = threading.Lock()
        self._access_token: str | None = None
        self._refresh_token: str | None = None
        self._token_expires = 0.0
        self.stats = CallStats()

    def __repr__(self) -> str:  # never show the client secret or a token
        return f"ServiceFusionClient({self._base_url!r}, client_id={self._client_id!r})"

    def close(self) -> None:
        self._session.close()

    # ---- reads ----
    def iter_records(self, entity: str, *, modified_from: datetime | None = None,
                     modified_to: datetime | None = None) -> Iterator[SourceRecord | RejectedRecord]:
        """Stream one entity, modified within ``[modified_from, modified_to]`` where SF allows a window.

        Jobs are windowed by the server (``filters[updated_date]``); customers have no such
        filter, so they are read newest-first and the read stops below ``modified_from``;
        job statuses and techs cannot be windowed and are always read whole.
        """
        spec = sf_entity(entity)
        modified_from, modified_to = as_timestamp(modified_from), as_timestamp(modified_to)  # naive = UTC
        params = {"sort": spec.sort, **({"expand": spec.expand} if spec.expand else {})}
        if spec.window == "server":
            if modified_from is not None:
                params["filters[updated_date][gte]"] = _rfc3339(modified_from)
            if modified_to is not None:
                params["filters[updated_date][lte]"] = _rfc3339(modified_to)
        for item in self._iter_items(spec.path, params):
            record = self._to_record(entity, spec, item)
            if spec.window == "newest_first" and isinstance(record, SourceRecord) and record.modified_at:
                if modified_from is not None and record.modified_at < modified_from:
                    return
                if modified_to is not None and record.modified_at > modified_to:
                    continue
            yield record

    @staticmethod
    def _to_record(entity: str, spec: SfEntity, item: object) -> SourceRecord | RejectedRecord:
        if not isinstance(item, dict):
            return RejectedRecord(entity, None, "list item is not a JSON object", _raw(item))
        source_id = as_int(item.get("id"))
        if source_id is None:
            return RejectedRecord(entity, as_text(item.get("id")) or None,
                                  f"missing or non-integer id: {item.get('id')!r}", _raw(item))
        if spec.modified_field is None:
            return SourceRecord(entity, source_id, None, item)
        modified = parse_timestamp(item.get(spec.modified_field))
        if modified is None:
            return RejectedRecord(entity, str(source_id), f"missing or unparseable {spec.modified_field}: "
                                                           f"{item.get(spec.modified_field)!r}", _raw(item))
        return SourceRecord(entity, source_id, modified, item)

    def _iter_items(self, path: str, params: Mapping[str, str]) -> Iterator[Any]:
        """Every item of a list, one page per request, until ``currentPage >= pageCount``.

        A server that keeps announcing further pages is stopped with an error once the read goes
        `PAGE_GROWTH_ALLOWANCE` pages past the count its first answer gave (at most `MAX_LIST_PAGES`):
        records added while the list is read can add a page or two, an endless list cannot be read.
        """
        page, last_page, first_count = 1, None, None
        while True:
            data = self._get(path, {**params, "page": str(page), "per-page": str(self._per_page)})
            envelope = data if isinstance(data, dict) else {}
            items, meta = envelope.get("items"), envelope.get("_meta")
            if not isinstance(items, list) or not isinstance(meta, dict):
                raise PermanentError(f"GET {path}: the answer is not a list envelope {{items, _meta}}")
            current, count = as_int(meta.get("currentPage")), as_int(meta.get("pageCount"))
            if current is not None and current < page:
                return  # the server clamped us back to a page already read
            yield from items
            if current is None or count is None or current >= count or not items:
                return
            if last_page is None:
                last_page = min(count + PAGE_GROWTH_ALLOWANCE, MAX_LIST_PAGES)
                first_count = count
            if current >= last_page:
                raise PermanentError(f"GET {path}: the server still announces more pages after page {current} "
                                     f"(it first said {first_count}); the read is stopped rather than continued "
                                     "without end")
            page = current + 1

    def find_jobs_by_po_number(self, po_number: str) -> list[dict[str, Any]]:
        """Jobs whose ``po_number`` equals ``po_number`` exactly (SF's filter is a partial match:
        "PW-9" also finds "PW-90")."""
        wanted = po_number.strip()
        if not wanted:
            raise ValueError("po_number must not be blank: the partial-match filter would return every job")
        params = {"sort": "id", "filters[po_number]": wanted, "expand": JOB_EXPAND}
        return [item for item in self._iter_items("/jobs", params)
                if isinstance(item, dict) and as_text(item.get("po_number")) == wanted]

    def find_customers_by_name(self, name: str) -> list[dict[str, Any]]:
        """Customers whose name contains ``name`` (SF's ``filters[name]`` is a partial match), with their
        custom fields: one request where reading every customer would take one per 50."""
        wanted = name.strip()
        if not wanted:
            raise ValueError("name must not be blank: the partial-match filter would return every customer")
        params = {"sort": "id", "filters[name]": wanted, "expand": "custom_fields"}
        return [item for item in self._iter_items("/customers", params) if isinstance(item, dict)]

    def get_job(self, job_id: int) -> dict[str, Any] | None:
        """One job with its custom fields, techs and notes; None when SF has no such job."""
        try:
            job = self._get(f"/jobs/{int(job_id)}", {"expand": JOB_EXPAND})
        except NotFoundError:
            return None
        return job if isinstance(job, dict) else None

    def list_job_statuses(self) -> list[dict[str, Any]]:
        return self._list_all("/job-statuses")

    def list_job_categories(self) -> list[dict[str, Any]]:
        return self._list_all("/job-categories")

    def me(self) -> dict[str, Any]:
        """The authorized user: the connectivity check."""
        data = self._get("/me", {})
        if not isinstance(data, dict):
            raise PermanentError("GET /me: the answer is not an object")
        return data

    def _list_all(self, path: str) -> list[dict[str, Any]]:
        return [item for item in self._iter_items(path, {"sort": "id"}) if isinstance(item, dict)]

    # ---- writes ----
    def create_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /jobs``; raises `ValidationFailed` (422) or `AmbiguousWriteError` (maybe stored)."""
        return self._create("/jobs", body)

    def create_customer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /customers``; raises `ValidationFailed` (422) or `AmbiguousWriteError` (maybe stored)."""
        return self._create("/customers", body)

    def _create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self._call(lambda: self._post_once(path, dict(body)))
        except StopRetrying as stop:
            raise stop.error from stop.error.__cause__

    def _post_once(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = self._exchange("POST", path, {}, body)
        except _TRANSIENT as exc:
            if _never_sent(exc):
                raise RetryableError(f"POST {path}: could not connect ({type(exc).__name__})") from exc
            raise self._ambiguous(path, f"{type(exc).__name__} after the request was sent", exc) from exc
        except ResponseTooLarge as exc:
            raise self._ambiguous(path, str(exc), exc) from exc
        if resp.status_code >= 500:
            raise self._ambiguous(path, f"{resp.status_code} {_error_message(resp)}", None)
        if 300 <= resp.status_code < 400:
            raise self._ambiguous(path, f"{resp.status_code} redirect to {resp.headers.get('Location')!r}, not "
                                        "followed: is the base URL SF's https API URL?", None)
        self._raise_for_status("POST", path, resp)
        created, why_not = _created_record(resp)
        if created is None:
            raise self._ambiguous(path, f"{resp.status_code} answer is not the created record: {why_not}", None)
        return created

    def _ambiguous(self, path: str, why: str, cause: BaseException | None) -> StopRetrying:
        """The error failing a create without a retry, counted like any failure (breaker and stats)."""
        self.stats.add(failures=1)
        if self._breaker.record_failure():
            self.stats.add(circuit_opened=1)
        self._log.warning(f"POST {path}: outcome unknown ({why}); not retried - look the record up first")
        error = AmbiguousWriteError(f"POST {path}: outcome unknown ({why}); look the record up before retrying")
        error.__cause__ = cause
        return StopRetrying(error)

    # ---- HTTP ----
    def _call(self, fn: Callable[[], T]) -> T:
        return call_with_retry(fn, policy=self._retry, breaker=self._breaker, stats=self.stats)

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        return self._call(lambda: self._get_once(path, params))

    def _get_once(self, path: str, params: Mapping[str, str]) -> Any:
        try:
            resp = self._exchange("GET", path, params, None)
        except _TRANSIENT as exc:
            raise RetryableError(f"GET {path}: {type(exc).__name__}") from exc
        self._raise_for_status("GET", path, resp)
        return self._json(resp, "GET", path)

    def _exchange(self, method: str, path: str, params: Mapping[str, str], body: dict[str, Any] | None
                  ) -> _Answer:
        """One request; on a 401 the token is dropped and the request sent once more with a fresh one."""
        resp = self._send(method, path, params, body)
        if resp.status_code == 401:
            self._log.info(f"{method} {path}: 401, refreshing the access token")
            with self._token_lock:
                self._access_token = None
            resp = self._send(method, path, params, body)
        return resp

    def _send(self, method: str, path: str, params: Mapping[str, str], body: dict[str, Any] | None
              ) -> _Answer:
        waited = self._bucket.acquire()
        if waited:
            self.stats.add(wait_seconds=waited)
        headers = {"Authorization": f"Bearer {self._token()}"}
        self._log.debug(f"ServiceFusion {method} {path} {dict(params)}")
        # Only reads follow redirects: a redirected write is answered by the caller as ambiguous.
        resp = self._receive(self._session.request(method, self._base_url + path, params=params, json=body,
                                                   headers=headers, timeout=self._timeout, stream=True,
                                                   allow_redirects=method == "GET"))
        reset = as_int(resp.headers.get("X-Rate-Limit-Reset"))
        self._bucket.observe(as_int(resp.headers.get("X-Rate-Limit-Remaining")),
                             float(reset) if reset is not None else None)
        return resp

    def _receive(self, resp: requests.Response) -> _Answer:
        """Read a streamed answer under the size cap and a deadline of one read timeout, and count it."""
        answer = _read_answer(resp, self._max_response_bytes, time.monotonic() + self._timeout[1])
        self.stats.add(calls=1, bytes_received=len(answer.content))
        return answer

    def _raise_for_status(self, method: str, path: str, resp: _Answer) -> None:
        status = resp.status_code
        if status < 400:
            return
        where = f"{method} {path}: {status} {_error_message(resp)}"
        if status == 429:
            self.stats.add(rate_limited=1)
            self._log.warning(f"{method} {path}: rate limited (429), backing off")
            raise RateLimited(where, retry_after=_retry_after(resp))
        if status >= 500:
            self._log.warning(where)
            raise RetryableError(where)
        if status == 404:
            raise NotFoundError(where)
        if status == 422:
            raise ValidationFailed(path, _validation_errors(resp))
        raise PermanentError(where)

    @staticmethod
    def _json(resp: _Answer, method: str, path: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise RetryableError(f"{method} {path}: {resp.status_code} answer is not JSON (truncated?)") from None

    # ---- OAuth2 ----
    def _token(self) -> str:
        """The cached access token, fetched (refresh grant first, then credentials) when missing or expiring."""
        with self._token_lock:
            if self._access_token is None or time.monotonic() >= self._token_expires:
                self._obtain_token()
            assert self._access_token is not None
            return self._access_token

    def _obtain_token(self) -> None:
        if self._refresh_token is not None:
            refresh, self._refresh_token = self._refresh_token, None  # single use: SF rotates it
            try:
                self._store_token(self._token_request({"grant_type": "refresh_token", "refresh_token": refresh}))
                return
            except PermanentError:
                self._log.info("ServiceFusion refresh token refused; authenticating with client credentials")
        self._store_token(self._token_request({"grant_type": "client_credentials", "client_id": self._client_id,
                                               "client_secret": self._client_secret}))

    def _store_token(self, data: Mapping[str, Any]) -> None:
        token, lifetime = data.get("access_token"), as_int(data.get("expires_in"))
        if not isinstance(token, str) or not token:
            raise PermanentError("ServiceFusion token answer has no access_token")
        ttl = float(lifetime) if lifetime is not None else 3600.0
        self._access_token = token
        self._refresh_token = data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else None
        self._token_expires = time.monotonic() + ttl - min(TOKEN_EXPIRY_MARGIN, ttl / 10)

    def _token_request(self, body: dict[str, str]) -> Mapping[str, Any]:
        """POST the token URL; the body holds secrets, so errors name only the grant type."""
        grant = body["grant_type"]
        try:
            resp = self._receive(self._session.post(self._token_url, json=body, timeout=self._timeout, stream=True))
        except _TRANSIENT as exc:
            raise RetryableError(f"token request ({grant}): {type(exc).__name__}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            raise RetryableError(f"token request ({grant}): {resp.status_code}", retry_after=_retry_after(resp))
        if resp.status_code != 200:
            raise PermanentError(f"token request ({grant}) refused: {resp.status_code} {_error_message(resp)}")
        data = self._json(resp, "POST", "token")
        if not isinstance(data, dict):
            raise PermanentError(f"token request ({grant}): the answer is not an object")
        return data
