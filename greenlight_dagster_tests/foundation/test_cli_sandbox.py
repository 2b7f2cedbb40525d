"""`greenlight sandbox serve|generate` as users run them: a real subprocess, real signals, real HTTP."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from greenlight_dagster.cli import main
from greenlight_dagster.sandbox.generator import generate_fixture

INFO_KEYS = {"pw_wsdl_url", "pw_username", "pw_password", "pw_rest_url", "pw_client_id", "pw_client_secret",
             "pw_system_id", "sf_base_url", "sf_token_url", "sf_client_id", "sf_client_secret", "admin_url"}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """``greenlight sandbox serve --scale small`` in its own session; killed if a test leaves it running."""
    proc = subprocess.Popen([sys.executable, "-m", "greenlight_dagster.cli", "sandbox", "serve", "--scale", "small"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


def first_line(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no info line within {timeout} s"
    return proc.stdout.readline()  # type: ignore[union-attr]


def process_group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def refuses_connections(url: str) -> bool:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    with closing(socket.socket()) as probe:
        return probe.connect_ex((host, int(port))) != 0


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_info_first_answers_and_stops_cleanly(serve: subprocess.Popen[str],
                                                           stop_signal: signal.Signals) -> None:
    info = json.loads(first_line(serve))
    assert set(info) == INFO_KEYS

    state = requests.get(info["admin_url"] + "/state", timeout=10)
    assert state.status_code == 200 and len(state.json()["propertyware"]["workOrders"]) > 100
    granted = requests.post(info["sf_token_url"], timeout=10, json={
        "grant_type": "client_credentials", "client_id": info["sf_client_id"],
        "client_secret": info["sf_client_secret"]})
    assert granted.status_code == 200 and granted.json()["access_token"]

    serve.send_signal(stop_signal)
    assert serve.wait(timeout=30) == 0
    assert serve.stdout.read() == ""  # type: ignore[union-attr] - nothing after the info line
    stderr = serve.stderr.read()  # type: ignore[union-attr]
    assert "GreenLight sandbox running" in stderr and f"sandbox stopped ({stop_signal.name})" in stderr
    assert info["pw_password"] not in stderr and info["sf_client_secret"] not in stderr
    assert process_group_gone(serve.pid)
    assert all(refuses_connections(info[key]) for key in ("pw_wsdl_url", "sf_base_url", "admin_url"))


def test_generate_writes_a_fixture_that_serve_accepts(tmp_path: Path) -> None:
    out = tmp_path / "world.json"
    result = CliRunner().invoke(main, ["sandbox", "generate", "--seed", "4", "--scale", "small", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == generate_fixture(4, "small")
    assert "planted:" in result.stderr


@pytest.mark.parametrize(("content", "message"), [
    ('{"propertyware": {"workOrders": [{"status": "Open"}]}}',
     "is invalid: propertyware.workOrders[0].id: is missing"),
    ('{"version": 1, ', "is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 16"),
    ('{"version": 3}', "is invalid: version: unsupported fixture version 3"),
])
def test_serve_refuses_a_bad_fixture_in_one_sentence(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = CliRunner().invoke(main, ["sandbox", "serve", "--fixture", str(bad)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"Error: fixture file {bad} {message}")


def test_serve_reports_a_taken_port(tmp_path: Path) -> None:
    with closing(socket.socket()) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = CliRunner().invoke(main, ["sandbox", "serve", "--port-base", str(port)])
    assert result.exit_code == 1
    assert f"the pw sandbox server cannot listen on 127.0.0.1:{port}" in result.stderr


def test_help_on_sandbox_commands() -> None:
    for args in (["sandbox", "--help"], ["sandbox", "serve", "--help"], ["sandbox", "generate", "--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and "Usage:" in result.output, args
