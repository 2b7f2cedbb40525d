"""The sandbox servers' plumbing: a client hanging up is quiet, the server keeps serving."""

from __future__ import annotations

import socket
import struct
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from greenlight_dagster.sandbox.httpbase import SandboxHTTPServer
from greenlight_dagster.sandbox.state import SandboxState


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass


def _reset_mid_request(address: tuple[str, int]) -> None:
    """Half a request line, then a TCP reset (SO_LINGER 0): the server's read fails with ECONNRESET."""
    with socket.create_connection(address, timeout=5) as conn:
        conn.sendall(b"GET /half")
        time.sleep(0.1)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_client_reset_prints_no_traceback_and_the_server_serves_on(capsys: pytest.CaptureFixture[str]) -> None:
    server = SandboxHTTPServer(_Ok, SandboxState({}))
    server.start()
    try:
        _reset_mid_request(server.server_address[:2])
        time.sleep(0.3)  # the handler thread meets the reset
        assert requests.get(f"{server.base_url}/ok", timeout=5).status_code == 200
    finally:
        server.stop()
    assert "Traceback" not in capsys.readouterr().err
