"""Hostile stand-ins for PropertyWare and ServiceFusion, served by pytest-httpserver.

Why not the sandbox: the sandbox is faithful, so it never serves a truncated envelope, an
XML bomb or a page of wrongly typed records. These helpers speak just enough of each protocol
(the generated WSDL for the PW client, an OAuth token for the SF client) to get the clients to the point
where they parse an answer chosen by the test - the part under attack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from pytest_httpserver import METHOD_ALL, HTTPServer

from greenlight_dagster.sandbox.pw_server import SERVICE_PATH
from greenlight_dagster.sandbox.pw_wsdl import ADDRESS_PLACEHOLDER, wsdl_text


def base_url(server: HTTPServer) -> str:
    return server.url_for("").rstrip("/")


def answer(server: HTTPServer, path: str, body: bytes | str, *, status: int = 200, content_type: str = "text/xml",
           method: str = METHOD_ALL, query_string: str | None = None) -> None:
    """Serve ``body`` byte for byte to every request for ``path``, instead of what it answered before.

    pytest-httpserver answers with the first handler that matches, so an earlier answer for the same
    request is dropped here; a test (or a Hypothesis example) can then change the answer between requests.
    """
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    server.handlers[:] = [h for h in server.handlers
                          if (h.matcher.uri, h.matcher.method, h.matcher.query_string) != (path, method, query_string)]
    server.expect_request(path, method=method, query_string=query_string).respond_with_data(
        data, status=status, content_type=content_type)


def requested_paths(server: HTTPServer) -> list[str]:
    """The path of every request the server received, in arrival order."""
    return [request.path for request, _ in server.log]


def serve_pw_wsdl(server: HTTPServer, service_base: str | None = None) -> str:
    """Make ``server`` a PWServices endpoint: the sandbox's WSDL, whose service address is ``service_base``
    (``server`` itself by default); returns the WSDL URL."""
    wsdl = wsdl_text().replace(ADDRESS_PLACEHOLDER, f"{service_base or base_url(server)}{SERVICE_PATH}")
    answer(server, SERVICE_PATH, wsdl, method="GET", query_string="wsdl")
    return f"{base_url(server)}{SERVICE_PATH}?wsdl"


@contextmanager
def pw_stub() -> Iterator[tuple[HTTPServer, str]]:
    """A PWServices stub on a new server (127.0.0.1, a free port) and its WSDL URL, stopped on exit.

    A new server rather than the ``httpserver`` fixture's shared one: the PW client reads a WSDL once per
    URL per process, so a reused URL would carry what an earlier test's client learnt.
    """
    with HTTPServer(host="127.0.0.1") as server:
        yield server, serve_pw_wsdl(server)


def answer_pw(server: HTTPServer, body: bytes | str) -> None:
    """Serve ``body`` as the answer to every SOAP call."""
    answer(server, SERVICE_PATH, body, method="POST")


def serve_sf_token(server: HTTPServer) -> tuple[str, str]:
    """Make ``server`` answer SF's OAuth token request; returns (base URL, token URL)."""
    answer(server, "/oauth/access_token", json.dumps({"access_token": "stub-token", "expires_in": 3600}),
           content_type="application/json")
    return f"{base_url(server)}/v1", f"{base_url(server)}/oauth/access_token"
