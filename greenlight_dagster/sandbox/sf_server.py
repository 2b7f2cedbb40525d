"""The ServiceFusion REST sandbox: JSON over HTTP with OAuth2, as docs/apis/servicefusion.md §7 describes it.

It exists so a sync can be rehearsed, a client tested and an incident reproduced without a
live account (SF has no vendor sandbox). It is deliberately as unforgiving as the real API:

* ``POST /oauth/access_token`` (JSON or form body; ``client_credentials`` and rotating
  ``refresh_token`` grants); resources under ``/v1`` need ``Authorization: Bearer`` **or**
  ``?access_token=`` (both is a 400); tokens expire on real time.
* A fixed window of ``rate_limit_per_minute`` requests per token with ``X-Rate-Limit-*`` on
  every response and 429 (+ ``Retry-After`` unless switched off).
* Lists, filters, sort, pagination, ``fields``/``expand`` (`sf_query`); creates with 422
  arrays (`sf_create`); PUT/PATCH/DELETE are 405 (the API is read + create only).
* An unsorted ``GET /jobs`` hangs (the community-reported behaviour), or is slow, or behaves
  like ``sort=id`` - ``unsorted_jobs`` chooses.
* Injected faults (docs/operations.md §4) on operations named ``"METHOD /template"``, e.g.
  ``"GET /jobs"``, ``"GET /jobs/{id}"``, ``"POST /customers"``, ``"POST /oauth/access_token"``.
  ``error`` is a 500, ``rate_limit`` a 429 (``Retry-After: 1``), ``commit_then_drop``
  performs the request (a create is stored) and then resets the connection unanswered, and
  ``malformed_success`` performs it and answers its 2xx with a body that is not the contract's:
  in turn an HTML error page, truncated JSON, an empty body and an object without ``id``
  (`MALFORMED_JSON_BODIES`), as proxies and overloaded gateways answer.

Every request is logged through `SandboxState.log_request` (status 0 = no answer sent), with
any ``access_token`` query value masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from greenlight_dagster.core.fields import as_int
from greenlight_dagster.sandbox import sf_query
from greenlight_dagster.sandbox.httpbase import MALFORMED_JSON_BODIES, SandboxHandler, SandboxHTTPServer
from greenlight_dagster.sandbox.sf_auth import RateLimiter, TokenStore
from greenlight_dagster.sandbox.sf_create import create_customer, create_job
from greenlight_dagster.sandbox.sf_errors import ApiError, OAuthError
from greenlight_dagster.sandbox.sf_query import Query, Resource
from greenlight_dagster.sandbox.state import DEFAULT_ME, SandboxState

API_PREFIX = "/v1"
TOKEN_PATH = "/oauth/access_token"
UNSORTED_JOBS_MODES = ("hang", "slow", "id")
_CREATORS = {"customers": create_customer, "jobs": create_job}
_ACCESS_TOKEN_PARAM = re.compile(r"(access_token=)[^&]*")


@dataclass(frozen=True)
class Route:
    """A matched path: its template (the fault/log operation name), allowed methods, target."""

    template: str
    methods: frozenset[str]
    resource: Resource | None = None
    record_id: str | None = None


def match_route(path: str) -> Route | None:
    if path == TOKEN_PATH:
        return Route(TOKEN_PATH, frozenset({"POST"}))
    if not path.startswith(API_PREFIX + "/"):
        return None
    parts = path[len(API_PREFIX):].strip("/").split("/")
    if parts == ["me"]:
        return Route("/me", frozenset({"GET"}))
    resource = sf_query.RESOURCES.get(parts[0])
    if resource is None or len(parts) > 2:
        return None
    if len(parts) == 2:
        return Route(f"/{resource.name}/{{id}}", frozenset({"GET"}), resource, parts[1])
    methods = frozenset({"GET", "POST"} if resource.name in _CREATORS else {"GET"})
    return Route(f"/{resource.name}", methods, resource)


@dataclass
class SFSettings:
    """Per-server behaviour switches, reached by the handler through ``server.options["sf"]``."""

    tokens: TokenStore
    limiter: RateLimiter
    retry_after: bool
    unsorted_jobs: str
    hang_seconds: float


@dataclass
class Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _json_body(content_type: str | None, raw: bytes) -> dict[str, Any]:
    """A create body: JSON only (415 otherwise), well-formed (400 otherwise), an object."""
    if _media_type(content_type) != "application/json":
        raise ApiError(415, "Unsupported media type: send Content-Type: application/json.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return data


def _token_body(content_type: str | None, raw: bytes) -> Mapping[str, Any]:
    """The token request: JSON as documented, or form-encoded as some integrations send it."""
    if _media_type(content_type) == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        return _json_body(content_type, raw)
    except ApiError as exc:
        raise OAuthError(exc.status, "invalid_request", exc.message) from None


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class SFHandler(SandboxHandler):
    """One request: route, faults, auth, rate limit, then read or create."""

    server_name = "sf"

    def do_GET(self) -> None:
        self.handle_api("GET")

    def do_POST(self) -> None:
        self.handle_api("POST")

    def do_PUT(self) -> None:
        self.handle_api("PUT")

    def do_PATCH(self) -> None:
        self.handle_api("PATCH")

    def do_DELETE(self) -> None:
        self.handle_api("DELETE")

    @property
    def settings(self) -> SFSettings:
        settings: SFSettings = self.server.options["sf"]
        return settings

    def handle_api(self, method: str) -> None:
        body = self.read_body()  # always: keeps a keep-alive connection in step even on errors
        split = urlsplit(self.path)
        route = match_route(split.path)
        template = route.template if route else split.path
        self.rate_headers = self.settings.limiter.untouched().headers
        faults = self.apply_transport_faults(f"{method} {template}", method)
        if faults is None:
            return
        kinds = {fault.kind for fault in faults}
        try:
            reply = self.answer(method, route, dict(parse_qsl(split.query, keep_blank_values=True)), body, kinds)
        except ApiError as exc:
            reply = Reply(exc.status, exc.payload(), exc.headers)
        if reply is None:
            return
        if "commit_then_drop" in kinds:
            self.hang_up(method, template)
            return
        # Logged before answering: a client holding the answer can rely on finding its request in the log.
        self.state.log_request("sf", method, template, reply.status, self._logged_path())
        if "malformed_success" in kinds and 200 <= reply.status < 300:
            self.send_malformed_success(reply.status, MALFORMED_JSON_BODIES, {**self.rate_headers, **reply.headers})
            return
        self.send_json(reply.status, reply.payload, {**self.rate_headers, **reply.headers})

    def hang_up(self, method: str, template: str) -> None:
        """Close the connection without an answer ("socket hang up"), logged as status 0."""
        self.state.log_request("sf", method, template, 0, self._logged_path())
        self.drop_connection()

    def _logged_path(self) -> str:
        return _ACCESS_TOKEN_PARAM.sub(r"\1***", self.path)

    def answer(self, method: str, route: Route | None, query: Query, body: bytes, kinds: set[str]) -> Reply | None:
        """The reply to send, or None when the request was already hung up."""
        if route is None:
            raise ApiError(404, f"Page not found: {urlsplit(self.path).path}")
        if method not in route.methods:
            raise ApiError(405, f"Method Not Allowed. This URL can only handle: {', '.join(sorted(route.methods))}.")
        if "error" in kinds:
            raise ApiError(500, "An internal server error occurred.")
        if "rate_limit" in kinds:
            raise ApiError(429, "Rate limit exceeded.", {"Retry-After": "1"} if self.settings.retry_after else {})
        if route.template == TOKEN_PATH:
            return Reply(200, self.settings.tokens.grant(_token_body(self.headers.get("Content-Type"), body)))
        self.authorize(query)
        if method == "POST":
            return self.create(route, _json_body(self.headers.get("Content-Type"), body))
        return self.read(route, query)

    def authorize(self, query: Query) -> None:
        """Check the bearer token (header xor query) and count the request against its window."""
        header, param = self.headers.get("Authorization"), query.get("access_token")
        if header is not None and param is not None:
            raise ApiError(400, "Send the access token either in the Authorization header or as the access_token "
                                "parameter, not both.")
        token = param if param is not None else _bearer(header)
        if not token or not self.settings.tokens.is_valid(token):
            raise ApiError(401, "Your request was made with invalid or expired credentials.",
                           {"WWW-Authenticate": 'Bearer realm="api"'})
        decision = self.settings.limiter.hit(token)
        self.rate_headers = decision.headers
        if not decision.allowed:
            retry = {"Retry-After": str(decision.retry_after)} if self.settings.retry_after else {}
            raise ApiError(429, "Rate limit exceeded.", retry)

    def create(self, route: Route, data: dict[str, Any]) -> Reply:
        assert route.resource is not None  # only collection routes of creatable resources allow POST
        with self.state.lock:  # the stored record is live: copy it before anyone else changes it
            stored = _CREATORS[route.resource.name](self.state, data)
            return Reply(201, self.single(route.resource, stored, {}, expand_all=True))

    def read(self, route: Route, query: Query) -> Reply | None:
        resource = route.resource
        if resource is None:
            return Reply(200, dict(DEFAULT_ME))
        if route.record_id is not None:
            with self.state.lock:
                record = self.state.table("servicefusion", resource.entity).get(as_int(route.record_id) or -1)
                if record is None:
                    raise ApiError(404, f"Object not found: {route.record_id}")
                return Reply(200, self.single(resource, record, query))
        sort = sf_query.parse_sort(resource, query.get("sort"))
        if resource is sf_query.JOBS and not sort and not self.wait_out_unsorted_jobs(route):
            return None
        with self.state.lock:
            envelope, headers = sf_query.list_page(resource, self.state, query, sort)
        return Reply(200, envelope, headers)

    @staticmethod
    def single(resource: Resource, record: Mapping[str, Any], query: Query, *, expand_all: bool = False
               ) -> dict[str, Any]:
        return {**sf_query.view(record, resource, query, expand_all=expand_all),
                "_expandable": sf_query.unexpanded(resource, query, expand_all=expand_all)}

    def wait_out_unsorted_jobs(self, route: Route) -> bool:
        """Model the reported hang of an unsorted ``GET /jobs``; False when the request was hung up."""
        mode = self.settings.unsorted_jobs
        if mode == "id":
            return True
        self.server.stopping.wait(self.settings.hang_seconds)
        if mode == "slow":
            return True
        self.hang_up("GET", route.template)
        return False


def create_sf_server(
    state: SandboxState,
    *,
    port: int = 0,
    client_id: str,
    client_secret: str,
    token_ttl_seconds: int = 3600,
    rate_limit_per_minute: int = 60,
    retry_after: bool = True,
    unsorted_jobs: str = "hang",
    hang_seconds: float = 120.0,
    rate_window_seconds: float = 60.0,
    rate_limit_scope: str = "token",
    token_error_status: int = 401,
) -> SandboxHTTPServer:
    """A ServiceFusion sandbox on 127.0.0.1 (not started: call ``.start()`` / ``.stop()``).

    API base ``{base_url}/v1``, token URL ``{base_url}/oauth/access_token``.
    ``rate_window_seconds`` shortens the rate window for tests; ``rate_limit_scope`` is
    ``"token"`` (documented) or ``"account"``; ``token_error_status`` is the status of a
    bad-credentials token answer (the docs do not say 400 or 401).
    """
    if unsorted_jobs not in UNSORTED_JOBS_MODES:
        raise ValueError(f"unsorted_jobs must be one of {UNSORTED_JOBS_MODES}, got {unsorted_jobs!r}")
    settings = SFSettings(
        tokens=TokenStore(client_id, client_secret, token_ttl_seconds, error_status=token_error_status),
        limiter=RateLimiter(rate_limit_per_minute, rate_window_seconds, scope=rate_limit_scope),
        retry_after=retry_after, unsorted_jobs=unsorted_jobs, hang_seconds=hang_seconds,
    )
    return SandboxHTTPServer(SFHandler, state, port, sf=settings)
