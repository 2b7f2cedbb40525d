"""Endpoint rules: https outside the sandbox, loopback http only with the sandbox flag, one origin."""

from __future__ import annotations

import re

import pytest

from greenlight_dagster.core.endpoints import (
    EndpointError,
    check_endpoint,
    check_same_origin,
    sandbox_endpoints,
    sandbox_in_use,
)
from greenlight_dagster.core.markdown import escape_markdown

NAME = "GREENLIGHT_PW_WSDL_URL"


@pytest.mark.parametrize("url", ["https://pw.example.com/pw/services/PWServices?wsdl", "https://127.0.0.1:8443/x"])
def test_https_is_accepted_with_or_without_the_sandbox(url: str) -> None:
    assert check_endpoint(NAME, url, sandbox=False) == url
    assert check_endpoint(NAME, url, sandbox=True) == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/pw?wsdl", "http://localhost/x", "http://[::1]:9/x",
                                 "http://127.5.0.1/x"])
def test_plain_http_needs_the_sandbox_and_a_loopback_host(url: str) -> None:
    assert check_endpoint(NAME, url, sandbox=True) == url
    with pytest.raises(EndpointError, match="GREENLIGHT_SANDBOX_ENDPOINTS=1"):
        check_endpoint(NAME, url, sandbox=False)


@pytest.mark.parametrize("url", ["http://evil.example.com/pw?wsdl", "http://10.0.0.5/x", "http://localhost.evil.com/x",
                                 "ftp://127.0.0.1/x", "file:///etc/passwd"])
def test_anything_else_is_refused_even_in_the_sandbox(url: str) -> None:
    for sandbox in (True, False):
        with pytest.raises(EndpointError, match=NAME):
            check_endpoint(NAME, url, sandbox=sandbox)


@pytest.mark.parametrize("url", ["", "https://", "https://user:pw@pw.example.com/x"])
def test_empty_hostless_or_credential_urls_are_refused(url: str) -> None:
    with pytest.raises(EndpointError, match=NAME):
        check_endpoint(NAME, url, sandbox=True)


def test_the_sandbox_is_recognised_explicitly() -> None:
    assert sandbox_in_use({"GREENLIGHT_SANDBOX": "1"}) and sandbox_in_use({"GREENLIGHT_SANDBOX": " TRUE "})
    assert not sandbox_in_use({}) and not sandbox_in_use({"GREENLIGHT_SANDBOX": "0"})
    # a sandbox started elsewhere declares its endpoints without asking the CLI to start another one
    assert sandbox_endpoints({"GREENLIGHT_SANDBOX_ENDPOINTS": "1"}) and sandbox_endpoints({"GREENLIGHT_SANDBOX": "1"})
    assert not sandbox_in_use({"GREENLIGHT_SANDBOX_ENDPOINTS": "1"}) and not sandbox_endpoints({})


def test_service_address_must_share_the_wsdl_origin() -> None:
    check_same_origin("https://pw.example.com/pw/services/PWServices", "https://pw.example.com:443/pw?wsdl")
    for elsewhere in ("https://evil.example.com/pw/services/PWServices", "http://pw.example.com/pw",
                      "https://pw.example.com:8443/pw"):
        with pytest.raises(EndpointError, match="another origin"):
            check_same_origin(elsewhere, "https://pw.example.com/pw?wsdl")


def test_remote_text_is_escaped_for_markdown() -> None:
    hostile = "Leak [click](https://evil.example/x) ![px](https://evil.example/p.png) <img src=x>\n# big *bold* `code`"
    escaped = escape_markdown(hostile)
    assert "\n" not in escaped
    assert re.findall(r"(?<!\\)[\[\]()<>#*`!]", escaped) == []  # every active character is escaped
    assert escaped.replace("\\", "") == " ".join(hostile.split())  # every character still there, as typed
    assert escape_markdown("abcdef", 3) == "abc"
