"""HTTP plumbing shared by the three sandbox servers (PW SOAP, SF REST, admin).

A threaded stdlib server with TCP_NODELAY (without it, keep-alive responses stall ~40 ms on
Nagle + delayed ACK) bound to 127.0.0.1 only, plus a handler base that knows how to apply
the transport-level faults every server shares: latency, hang, reset and
commit-then-drop. Protocol-level faults (HTTP 500 vs SOAP Fault, 429 bodies) are each
server's own business.
"""

from __future__ import annotations

import itertools
import json
import random
import socket
import struct
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from greenlight_dagster.sandbox.faults import Fault
from greenlight_dagster.sandbox.state import SandboxState

#: Faults handled here; the rest ("error", "rate_limit", "commit_then_drop", "malformed_success") are returned to
#: the server.
TRANSPORT_FAULTS = ("latency", "hang", "reset")
DEFAULT_HANG_MS = 120_000
#: What ``malformed_success`` answers instead of a JSON API's record: (content type, body), used in turn.
MALFORMED_JSON_BODIES = (
    ("text/html; charset=utf-8", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    ("application/json; charset=utf-8", b'{"id": 12'),
    ("application/json; charset=utf-8", b""),
    ("application/json; charset=utf-8", b'{"status": "created"}'),
)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, handler: type[BaseHTTPRequestHandler], state: SandboxState, port: int = 0,
                 **options: Any) -> None:
        self.state = state
        self.options = options
        self.stopping = threading.Event()
        self.malformed_turn = itertools.count()
        super().__init__(("127.0.0.1", port), handler)

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a pooled keep-alive connection closed, a killed run) is normal traffic:
        socketserver would print its traceback on the terminal of whoever runs the sandbox."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                                  name=f"sandbox-{self.server_address[1]}")
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class SandboxHandler(BaseHTTPRequestHandler):
    """Base request handler: body reading, responses, request log, transport faults."""

    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"
    server_name = "?"  # "pw" | "sf" | "admin", used in the request log and fault rules

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the stdlib's per-request stderr line; the request log is the record."""

    @property
    def state(self) -> SandboxState:
        return self.server.state

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_body(self, status: int, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            # A real server confirms "Connection: close"; without it a client may put the socket back
            # in its pool and reuse it after we closed it ("Remote end closed connection").
            self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_malformed_success(self, status: int, bodies: Sequence[tuple[str, bytes]],
                               headers: dict[str, str] | None = None) -> None:
        """The ``malformed_success`` fault: a performed request's 2xx carries, in turn, one of ``bodies``
        (content type, body) instead of the contract's answer, as proxies and overloaded gateways answer."""
        content_type, body = bodies[next(self.server.malformed_turn) % len(bodies)]
        self.send_body(status, body, content_type, headers)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

    def drop_connection(self) -> None:
        """Abort the TCP connection with a RST and no response ("socket hang up")."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def apply_transport_faults(self, operation: str, method: str) -> list[Fault] | None:
        """Apply latency/hang/reset for this request.

        Returns the protocol-level faults left for the server to act on, or ``None`` when
        the connection was dropped and the handler must return at once.
        """
        faults = self.state.faults.decide(self.server_name, operation)
        for fault in faults:
            if fault.kind == "latency":
                jitter = random.uniform(0.5, 1.5)
                time.sleep(fault.ms * jitter / 1000.0)
            elif fault.kind == "hang":
                self.server.stopping.wait((fault.ms or DEFAULT_HANG_MS) / 1000.0)
                self.state.log_request(self.server_name, method, operation, 0, self.path)
                self.drop_connection()
                return None
            elif fault.kind == "reset":
                self.state.log_request(self.server_name, method, operation, 0, self.path)
                self.drop_connection()
                return None
        return [f for f in faults if f.kind not in TRANSPORT_FAULTS]
