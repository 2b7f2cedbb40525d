"""The ServiceFusion client against a server that misbehaves in ways the sandbox does not model.

pytest-httpserver's server (127.0.0.1, a free port) answers each request from a function of the
test, so a redirect, an absurd rate-limit header, an oversized or endless answer can be served
exactly; every test checks what the client did about it and how long it took.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from greenlight_dagster.clients import servicefusion
from greenlight_dagster.clients.resilience import AmbiguousWriteError, PermanentError, RetryPolicy
from greenlight_dagster.clients.servicefusion import ResponseTooLarge, ServiceFusionClient
from greenlight_dagster_tests.http_stubs import serve_sf_token

#: (status, headers, body) of one answer.
Answer = tuple[int, dict[str, str], bytes]
Script = Callable[[str, str, dict[str, str]], Answer]


def _json(status: int, payload: Any, **headers: str) -> Answer:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(payload).encode()


def _page(page: int, page_count: int, ids: list[int]) -> Answer:
    items = [{"id": i, "updated_at": "2026-01-01T00:00:00Z"} for i in ids]
    return _json(200, {"items": items, "_meta": {"currentPage": page, "pageCount": page_count,
                                                 "totalCount": page_count * len(ids), "perPage": len(ids)}})


class Scripted:
    """The server: the OAuth token as SF sends it, every other answer from ``script``; and what it received."""

    def __init__(self, server: HTTPServer, script: Script) -> None:
        self.server = server
        self.base_url, self.token_url = serve_sf_token(server)
        server.expect_request(re.compile("/v1/.*")).respond_with_handler(
            lambda request: self._answer(request, script))

    @staticmethod
    def _answer(request: Request, script: Script) -> Response:
        status, headers, body = script(request.method, request.path, request.args.to_dict())
        return Response(body, status=status, headers=headers)

    def client(self, **options: Any) -> ServiceFusionClient:
        return ServiceFusionClient(self.base_url, self.token_url, "id", "secret",
                                   retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.5), timeout=5.0,
                                   **options)

    def calls(self, method: str, path: str) -> int:
        return [(request.method, request.path) for request, _ in self.server.log].count((method, path))


@pytest.fixture
def serve(httpserver: HTTPServer) -> Callable[[Script], Scripted]:
    return lambda script: Scripted(httpserver, script)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirected_create_is_ambiguous_never_success(serve: Callable[[Script], Scripted], status: int) -> None:
    """requests turned a redirected POST into a GET of the list - an object, taken for the created job."""
    def script(method: str, path: str, query: dict[str, str]) -> Answer:
        if method == "POST":
            return status, {"Location": "/v1/jobs"}, b""
        return _page(1, 1, [1, 2])

    server = serve(script)
    with pytest.raises(AmbiguousWriteError, match=f"{status} redirect"):
        server.client().create_job({"customer_name": 1, "po_number": "PW-1"})
    assert (server.calls("POST", "/v1/jobs"), server.calls("GET", "/v1/jobs")) == (1, 0)


@pytest.mark.parametrize("retry_after", ["nan", "-5", "inf", "100000000"])
def test_a_server_cannot_stall_or_break_the_client_with_retry_after(serve: Callable[[Script], Scripted],
                                                                      retry_after: str) -> None:
    answers = iter([_json(429, {"code": 429}, **{"Retry-After": retry_after}), _page(1, 1, [7])])
    server = serve(lambda method, path, query: next(answers))
    began = time.monotonic()
    records = list(server.client().iter_records("techs"))
    assert [r.source_id for r in records] == [7]
    assert time.monotonic() - began < 2.0  # the policy's 0.5 s cap at most, not 3 years nor a crash


def test_an_oversized_answer_is_refused_unread(serve: Callable[[Script], Scripted]) -> None:
    server = serve(lambda method, path, query: _json(200, {"items": [{"id": 1, "pad": "x" * 5000}], "_meta": {}}))
    with pytest.raises(ResponseTooLarge, match="more than 1000"):
        list(server.client(max_response_bytes=1000).iter_records("techs"))
    assert server.calls("GET", "/v1/techs") == 1  # refused once, not retried


def test_an_oversized_create_answer_is_ambiguous(serve: Callable[[Script], Scripted]) -> None:
    server = serve(lambda method, path, query: _json(201, {"id": 5, "pad": "x" * 5000}))
    with pytest.raises(AmbiguousWriteError, match="more than 1000"):
        server.client(max_response_bytes=1000).create_job({"customer_name": 1})
    assert server.calls("POST", "/v1/jobs") == 1


def test_a_list_that_never_ends_is_stopped(serve: Callable[[Script], Scripted]) -> None:
    """Each page says there is one more: the read stops with an error a few pages past the first count."""
    server = serve(lambda method, path, query: _page(int(query["page"]), int(query["page"]) + 1,
                                                     [int(query["page"])]))
    with pytest.raises(PermanentError, match="still announces more pages"):
        list(server.client().iter_records("techs"))
    assert server.calls("GET", "/v1/techs") == 2 + 10  # first said 2, plus the growth allowance


def test_a_list_announcing_a_billion_pages_is_read_for_a_bounded_number(serve: Callable[[Script], Scripted],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servicefusion, "MAX_LIST_PAGES", 4)
    server = serve(lambda method, path, query: _page(int(query["page"]), 10 ** 9, [int(query["page"])]))
    with pytest.raises(PermanentError, match="it first said 1000000000"):
        list(server.client().iter_records("techs"))
    assert server.calls("GET", "/v1/techs") == 4
