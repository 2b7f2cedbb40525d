"""Hostile stand-ins for PropertyWare and ServiceFusion: servers that answer whatever a test tells them to.

Why not the sandbox: the sandbox is faithful, so it never serves a truncated envelope, an
XML bomb or a page of wrongly typed records. These stubs speak just enough of each protocol
(the generated WSDL for the PW client, an OAuth token for the SF client) to get the clients to the point
where they parse an answer chosen by the test - the part under attack.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from greenlight_dagster.sandbox.pw_server import SERVICE_PATH
from greenlight_dagster.sandbox.pw_wsdl import ADDRESS_PLACEHOLDER, wsdl_text


class StubServer(ThreadingHTTPServer):
    """A 127.0.0.1 server whose POST/GET answers (status, body) are set by the test between requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StubHandler)
        self.lock = threading.Lock()
        self.answers: dict[str, tuple[int, bytes, str]] = {}  # path prefix -> (status, body, content type)
        self.paths: list[str] = []  # every request's path, in arrival order

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, path: str, body: bytes | str, status: int = 200, content_type: str = "text/xml") -> None:
        """Serve ``body`` for every request whose path starts with ``path`` (longest prefix wins)."""
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        with self.lock:
            self.answers[path] = (status, data, content_type)

    def lookup(self, path: str) -> tuple[int, bytes, str]:
        with self.lock:
            self.paths.append(path)
            matches = [p for p in self.answers if path.startswith(p)]
            return self.answers[max(matches, key=len)] if matches else (404, b"not found", "text/plain")


class _StubHandler(BaseHTTPRequestHandler):
    server: StubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the test's assertions are the record."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, body, content_type = self.server.lookup(self.path)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _serve
    do_POST = _serve


@contextmanager
def stub_server() -> Iterator[StubServer]:
    """A started stub, shut down on exit."""
    server = StubServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def serve_pw_wsdl(server: StubServer) -> str:
    """Make ``server`` a PWServices endpoint (the sandbox's WSDL pointing at it); returns the WSDL URL."""
    wsdl = wsdl_text().replace(ADDRESS_PLACEHOLDER, f"{server.base_url}{SERVICE_PATH}")
    server.answer(f"{SERVICE_PATH}?wsdl", wsdl)
    return f"{server.base_url}{SERVICE_PATH}?wsdl"


def serve_sf_token(server: StubServer) -> tuple[str, str]:
    """Make ``server`` answer SF's OAuth token request; returns (base URL, token URL)."""
    server.answer("/oauth/access_token", json.dumps({"access_token": "stub-token", "expires_in": 3600}),
                  content_type="application/json")
    return f"{server.base_url}/v1", f"{server.base_url}/oauth/access_token"
