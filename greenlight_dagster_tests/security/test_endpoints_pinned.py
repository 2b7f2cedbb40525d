"""Endpoints come from the deployment only: run config cannot redirect the credentials (issue 17.4).

A Launchpad user could set ``wsdl_url``/``base_url``/``token_url`` in run config while the
password and client secret still resolved from the environment, so the credentials went to the
host of their choosing. These tests show the fields are gone from the config schema, that the
environment's URL is checked (https, or the sandbox on loopback), that a WSDL sending calls to
another origin is refused before any call, and that reprs never show a secret.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest
from pytest_httpserver import HTTPServer

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.resilience import PermanentError, RetryPolicy
from greenlight_dagster.clients.servicefusion import ServiceFusionClient
from greenlight_dagster.core.endpoints import EndpointError
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster.sandbox.pw_server import SERVICE_PATH
from greenlight_dagster_tests.http_stubs import base_url, pw_stub, requested_paths, serve_pw_wsdl

SECRET = "planted-SECRET-91xQ"


def _config_fields(resource: dg.ConfigurableResource) -> set[str]:
    return set(type(resource).to_config_schema().as_field().config_type.fields)  # type: ignore[attr-defined]


def test_endpoint_urls_are_not_run_config() -> None:
    pw = PropertyWareResource(username="u", password=SECRET)
    sf = ServiceFusionResource(client_id="c", client_secret=SECRET)
    assert not _config_fields(pw) & {"wsdl_url", "url", "endpoint"}
    assert not _config_fields(sf) & {"base_url", "token_url", "url"}


def test_a_launchpad_url_is_refused_by_the_run_config_schema() -> None:
    @dg.op
    def use(propertyware: PropertyWareResource) -> None:
        propertyware.build_client()

    @dg.job(resource_defs={"propertyware": PropertyWareResource(username="u", password=SECRET)})
    def job() -> None:
        use()

    config = {"resources": {"propertyware": {"config": {"wsdl_url": "https://attacker.example/pw?wsdl"}}}}
    with pytest.raises(dg.DagsterInvalidConfigError, match="wsdl_url"):
        job.execute_in_process(run_config=config)


def test_the_deployment_url_is_checked_when_a_client_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GREENLIGHT_SANDBOX", raising=False)
    monkeypatch.delenv("GREENLIGHT_SANDBOX_ENDPOINTS", raising=False)
    pw = PropertyWareResource(username="u", password=SECRET)
    sf = ServiceFusionResource(client_id="c", client_secret=SECRET)
    monkeypatch.setenv("GREENLIGHT_PW_WSDL_URL", "http://pw.example.com/pw?wsdl")
    with pytest.raises(EndpointError, match="GREENLIGHT_PW_WSDL_URL must be an https URL"):
        pw.build_client()
    monkeypatch.setenv("GREENLIGHT_PW_WSDL_URL", "http://127.0.0.1:9/pw?wsdl")
    with pytest.raises(EndpointError, match="GREENLIGHT_SANDBOX_ENDPOINTS=1"):
        pw.build_client()
    monkeypatch.setenv("GREENLIGHT_SANDBOX_ENDPOINTS", "1")
    assert pw.build_client().soap.wsdl_url == "http://127.0.0.1:9/pw?wsdl"  # type: ignore[union-attr]
    monkeypatch.setenv("GREENLIGHT_SF_BASE_URL", "https://api.servicefusion.com/v1")
    monkeypatch.setenv("GREENLIGHT_SF_TOKEN_URL", "http://attacker.example/oauth/access_token")
    with pytest.raises(EndpointError, match="GREENLIGHT_SF_TOKEN_URL"):
        sf.build_client()


def test_a_wsdl_whose_service_address_is_elsewhere_is_refused_before_any_call(httpserver: HTTPServer) -> None:
    with HTTPServer(host="127.0.0.1") as server:
        wsdl_url = serve_pw_wsdl(server, service_base=base_url(httpserver))
        client = PropertyWareClient(wsdl_url, "u", SECRET, timeout=5, retry=RetryPolicy(max_attempts=1))
        with pytest.raises(PermanentError, match="another origin"):
            client.echo("ping")
    assert requested_paths(httpserver) == []


def test_a_same_origin_wsdl_is_used() -> None:
    with pw_stub() as (server, wsdl_url):
        server.no_handler_status_code = 404  # not found, not the default 500 (a server fault)
        client = PropertyWareClient(wsdl_url, "u", SECRET, timeout=5, retry=RetryPolicy(max_attempts=1))
        with pytest.raises(PermanentError, match="HTTP 404"):
            client.echo("ping")  # the stub serves no SOAP answer: the call reached the pinned address
        assert any(path == SERVICE_PATH for path in requested_paths(server))


@pytest.mark.parametrize("thing", [
    PropertyWareResource(username="u", password=SECRET),
    ServiceFusionResource(client_id="c", client_secret=SECRET),
    PropertyWareClient("https://pw.example.com/pw?wsdl", "u", SECRET),
    ServiceFusionClient("https://sf.example.com/v1", "https://sf.example.com/oauth", "c", SECRET),
], ids=["pw resource", "sf resource", "pw client", "sf client"])
def test_reprs_mask_secrets(thing: Any) -> None:
    assert SECRET not in repr(thing) and SECRET not in str(thing)
