"""The PropertyWare facade and resource: the configured APIs decide the client, and writes refuse clearly."""

from __future__ import annotations

import pytest

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.pw_facade import PropertyWare, PwApiUnavailable
from greenlight_dagster.clients.pw_rest import PropertyWareRestClient
from greenlight_dagster.core.pw_api import PwApiConfigError, PwApis
from greenlight_dagster.defs.propertyware.resources import CONNECTION_ENV, PropertyWareResource

SOAP = {"GREENLIGHT_PW_WSDL_URL": "http://127.0.0.1:9/pw/services/PWServices?wsdl",
        "GREENLIGHT_PW_USERNAME": "user", "GREENLIGHT_PW_PASSWORD": "pass"}
REST = {"GREENLIGHT_PW_REST_URL": "http://127.0.0.1:9/pw/api/rest/v1", "GREENLIGHT_PW_CLIENT_ID": "id",
        "GREENLIGHT_PW_CLIENT_SECRET": "not-shown", "GREENLIGHT_PW_SYSTEM_ID": "7"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in CONNECTION_ENV.values():
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def configure(monkeypatch: pytest.MonkeyPatch, *groups: dict[str, str]) -> None:
    monkeypatch.setenv("GREENLIGHT_SANDBOX_ENDPOINTS", "1")  # the stub URLs are plain-http loopback ones
    for group in groups:
        for name, value in group.items():
            monkeypatch.setenv(name, value)


def test_rest_only_builds_a_rest_reader(env: pytest.MonkeyPatch) -> None:
    configure(env, REST)
    client = PropertyWareResource().build_client()
    assert client.apis == PwApis(soap=False, rest=True, reads="rest")
    assert isinstance(client.rest, PropertyWareRestClient) and client.soap is None
    assert client.stats is client.rest.stats
    assert "not-shown" not in repr(client)


def test_both_read_through_rest_unless_told_soap(env: pytest.MonkeyPatch) -> None:
    configure(env, REST, SOAP)
    assert PropertyWareResource().apis().reads == "rest"
    env.setenv("GREENLIGHT_PW_API", "soap")
    client = PropertyWareResource().build_client()
    assert isinstance(client.soap, PropertyWareClient) and client.stats is client.soap.stats


def test_credential_fields_win_over_the_environment_but_endpoints_are_not_fields(env: pytest.MonkeyPatch) -> None:
    configure(env, SOAP, {"GREENLIGHT_PW_REST_URL": "http://127.0.0.1:9/pw/api/rest/v1"})
    resource = PropertyWareResource(client_id="a", client_secret="field-secret", system_id="1", api="rest")
    assert resource.apis() == PwApis(soap=True, rest=True, reads="rest")
    assert "wsdl_url" not in PropertyWareResource.model_fields and "rest_url" not in PropertyWareResource.model_fields
    assert "field-secret" not in repr(resource)


def test_nothing_configured_is_one_sentence(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(PwApiConfigError, match=r"^PropertyWare is not configured: set GREENLIGHT_PW_REST_URL"):
        PropertyWareResource().build_client()
    configure(env, {"GREENLIGHT_PW_REST_URL": "http://127.0.0.1:9/pw/api/rest/v1"})
    with pytest.raises(PwApiConfigError, match="not configured"):
        PropertyWareResource().apis()


def test_a_write_rest_cannot_make_is_refused_with_the_reason(env: pytest.MonkeyPatch) -> None:
    configure(env, REST)
    client = PropertyWareResource().build_client()
    with pytest.raises(PwApiUnavailable, match="REST v1 has no work-order status changes") as refused:
        client.update_work_order(9, status="In Progress")
    assert refused.value.kind == "pw_api_unavailable"
    with pytest.raises(PwApiUnavailable, match="notes"):
        client.attach_note(9, "hello")


def test_clients_must_match_the_apis() -> None:
    with pytest.raises(ValueError, match="do not match"):
        PropertyWare(PwApis(soap=True, rest=False, reads="soap"))
