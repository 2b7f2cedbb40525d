"""The Sandbox runner: three servers over one world, reachable with the credentials it reports."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, closing
from typing import Any

import pytest
import requests

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.servicefusion import ServiceFusionClient
from greenlight_dagster.sandbox.generator import FixtureError
from greenlight_dagster.sandbox.runner import ENV_NAMES, Sandbox, SandboxStartError

INFO_KEYS = {"pw_wsdl_url", "pw_username", "pw_password", "pw_rest_url", "pw_client_id", "pw_client_secret",
             "pw_system_id", "sf_base_url", "sf_token_url", "sf_client_id", "sf_client_secret", "admin_url"}


def admin(sandbox: Sandbox, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(sandbox.info["admin_url"] + path, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def token(info: dict[str, str], secret: str | None = None) -> requests.Response:
    return requests.post(info["sf_token_url"], timeout=10, json={
        "grant_type": "client_credentials", "client_id": info["sf_client_id"],
        "client_secret": secret if secret is not None else info["sf_client_secret"]})


def pw_client(sandbox: Sandbox) -> PropertyWareClient:
    info = sandbox.info
    return PropertyWareClient(info["pw_wsdl_url"], info["pw_username"], info["pw_password"])


def free_port_base() -> int:
    """A port P with P to P+3 all free right now."""
    for _ in range(50):
        with closing(socket.socket()) as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + 3 < 65_536 and all(port_is_free(base + i) for i in range(4)):
            return base
    raise RuntimeError("no four consecutive free ports found")


def port_is_free(port: int) -> bool:
    with closing(socket.socket()) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture
def running_pair() -> Iterator[tuple[Sandbox, Sandbox]]:
    with ExitStack() as stack:
        yield stack.enter_context(Sandbox()), stack.enter_context(Sandbox())


def test_info_and_env_follow_the_operating_contract(sandbox: Sandbox) -> None:
    info = sandbox.info
    assert set(info) == INFO_KEYS
    assert info["pw_wsdl_url"].endswith("/pw/services/PWServices?wsdl")
    assert info["sf_base_url"].endswith("/v1") and info["sf_token_url"].endswith("/oauth/access_token")
    assert all(info[key].startswith("http://127.0.0.1:") for key in INFO_KEYS if key.endswith("_url"))
    assert info["pw_rest_url"].endswith("/pw/api/rest/v1")
    assert sandbox.env("both") == {**{variable: info[key] for key, variable in ENV_NAMES.items()},
                                  "GREENLIGHT_SANDBOX_ENDPOINTS": "1"}
    sf = {"GREENLIGHT_SANDBOX_ENDPOINTS",
          "GREENLIGHT_SF_BASE_URL", "GREENLIGHT_SF_TOKEN_URL", "GREENLIGHT_SF_CLIENT_ID", "GREENLIGHT_SF_CLIENT_SECRET"}
    soap = {"GREENLIGHT_PW_WSDL_URL", "GREENLIGHT_PW_USERNAME", "GREENLIGHT_PW_PASSWORD"}
    rest = {"GREENLIGHT_PW_REST_URL", "GREENLIGHT_PW_CLIENT_ID", "GREENLIGHT_PW_CLIENT_SECRET",
            "GREENLIGHT_PW_SYSTEM_ID"}
    assert set(sandbox.env()) == set(sandbox.env("soap")) == soap | sf
    assert set(sandbox.env("rest")) == rest | sf
    with pytest.raises(ValueError, match="pw_api must be one of"):
        sandbox.env("graphql")


def test_credentials_are_fresh_per_instance(running_pair: tuple[Sandbox, Sandbox]) -> None:
    first, second = (s.info for s in running_pair)
    secrets = ("pw_username", "pw_password", "sf_client_id", "sf_client_secret")
    assert all(first[key] != second[key] for key in secrets)
    assert all(len(first[key]) >= 12 for key in secrets)
    assert token(first, second["sf_client_secret"]).status_code in (400, 401)
    assert token(second).status_code == 200


def test_clients_read_the_world_with_the_reported_credentials(fresh_sandbox: Sandbox) -> None:
    fixture = fresh_sandbox.fixture
    work_orders = list(pw_client(fresh_sandbox).iter_records("work_orders"))
    assert len(work_orders) == len(fixture["propertyware"]["workOrders"])
    info = fresh_sandbox.info
    sf = ServiceFusionClient(info["sf_base_url"], info["sf_token_url"], info["sf_client_id"],
                             info["sf_client_secret"])
    try:
        assert len(list(sf.iter_records("jobs"))) == len(fixture["servicefusion"]["jobs"])
    finally:
        sf.close()
    logged = {(e["server"], e["method"], e["operation"]) for e in admin(fresh_sandbox, "GET", "/requests")["requests"]}
    assert {("pw", "POST", "getWorkOrders"), ("sf", "POST", "/oauth/access_token"), ("sf", "GET", "/jobs")} <= logged


def test_admin_changes_reach_the_pw_server(fresh_sandbox: Sandbox) -> None:
    wo_id = fresh_sandbox.fixture["propertyware"]["workOrders"][0]["id"]
    admin(fresh_sandbox, "PATCH", f"/propertyware/workOrders/{wo_id}", {"status": "On Hold"})
    assert fresh_sandbox.state.get("propertyware", "workOrders", wo_id)["status"] == "On Hold"
    served = pw_client(fresh_sandbox).get_work_order(wo_id)
    assert served is not None and served["status"] == "On Hold"


def test_reset_gives_back_the_start_without_faults_or_log(fresh_sandbox: Sandbox) -> None:
    start = fresh_sandbox.state.snapshot()
    wo_id = start["propertyware"]["workOrders"][0]["id"]
    admin(fresh_sandbox, "PATCH", f"/propertyware/workOrders/{wo_id}", {"status": "Closed"})
    admin(fresh_sandbox, "POST", "/faults", {"server": "sf", "kind": "error"})
    assert token(fresh_sandbox.info).status_code == 500
    fresh_sandbox.reset()
    assert fresh_sandbox.state.snapshot() == start
    assert fresh_sandbox.state.faults.rules() == []
    assert fresh_sandbox.state.request_log() == []


def test_port_base_puts_pw_sf_admin_and_pw_rest_on_consecutive_ports() -> None:
    base = free_port_base()
    with Sandbox(port_base=base) as running:
        info = running.info
        assert info["pw_wsdl_url"].startswith(f"http://127.0.0.1:{base}/")
        assert info["sf_base_url"] == f"http://127.0.0.1:{base + 1}/v1"
        assert info["admin_url"] == f"http://127.0.0.1:{base + 2}"
        assert info["pw_rest_url"] == f"http://127.0.0.1:{base + 3}/pw/api/rest/v1"
        assert admin(running, "GET", "/clock")["clock"]


def test_a_taken_port_is_a_clear_error_and_nothing_is_left_running() -> None:
    base = free_port_base()
    with closing(socket.socket()) as squatter:
        squatter.bind(("127.0.0.1", base + 1))
        squatter.listen()
        with pytest.raises(SandboxStartError, match=f"the sf sandbox server cannot listen on 127.0.0.1:{base + 1}"):
            Sandbox(port_base=base).start()
    assert port_is_free(base)


def test_stop_is_idempotent_and_a_stopped_sandbox_says_so() -> None:
    running = Sandbox().start()
    url = running.info["admin_url"]
    running.stop()
    running.stop()
    with pytest.raises(RuntimeError, match="not running"):
        running.info  # noqa: B018 - the property is under test
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/state", timeout=2)


def test_a_given_fixture_is_served_and_a_bad_one_refused_before_starting() -> None:
    fixture = {"version": 1, "clock": "2025-03-01T00:00:00Z",
               "propertyware": {"portfolios": [{"id": 5, "name": "Given", "abbreviation": "GIV"}]}}
    with Sandbox(fixture) as running:
        assert admin(running, "GET", "/state")["propertyware"]["portfolios"] == fixture["propertyware"]["portfolios"]
    with pytest.raises(FixtureError, match="portfolios"):
        Sandbox({"propertyware": {"portfolios": [{"name": "no id"}]}})


def test_server_options_pass_through_and_credentials_can_be_fixed() -> None:
    with Sandbox(pw_options={"username": "rehearsal", "page_size": 7}, sf_options={"client_id": "demo-client"}
                 ) as running:
        info = running.info
        assert (info["pw_username"], info["sf_client_id"]) == ("rehearsal", "demo-client")
        assert token(info).status_code == 200
        assert len(list(pw_client(running).iter_records("work_orders"))) == 151
