"""Which endpoint URLs the clients may send credentials to (decision 0015).

The PropertyWare password and the ServiceFusion client secret resolve from deployment
configuration, so the URLs they are sent to must come from the same place and be checked
the same way: https everywhere, except the local sandbox, which is recognised explicitly and
then may be reached over plain http on a loopback host only. Explicitly means either
``GREENLIGHT_SANDBOX=1`` (the CLI starts the sandbox) or ``GREENLIGHT_SANDBOX_ENDPOINTS=1``
(the endpoints are a sandbox started elsewhere: `Sandbox.env` sets it, and so must whoever
exports the URLs ``greenlight sandbox serve`` prints); two variables because the first also
tells the CLI to start a sandbox of its own.
A SOAP service address must share the WSDL's origin, so a WSDL cannot redirect the calls
(and the password in their Basic auth header) to another host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

SANDBOX_ENV = "GREENLIGHT_SANDBOX"
SANDBOX_ENDPOINTS_ENV = "GREENLIGHT_SANDBOX_ENDPOINTS"
_TRUE = ("1", "true", "yes", "on")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class EndpointError(ValueError):
    """An endpoint URL the clients must not use; the message names the setting and what to do."""


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in _TRUE


def sandbox_in_use(env: Mapping[str, str]) -> bool:
    """Whether ``GREENLIGHT_SANDBOX`` asks for the local sandbox in place of PW and SF."""
    return _flag(env, SANDBOX_ENV)


def sandbox_endpoints(env: Mapping[str, str]) -> bool:
    """Whether the endpoints are declared the local sandbox's (either variable): loopback http is then allowed."""
    return sandbox_in_use(env) or _flag(env, SANDBOX_ENDPOINTS_ENV)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP literal (a name other than localhost could resolve anywhere)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def check_endpoint(name: str, url: str, *, sandbox: bool) -> str:
    """``url`` when the clients may use it for ``name`` (a variable name), else `EndpointError`."""
    if not url:
        raise EndpointError(f"{name} is not set: set it in the deployment's environment (or SSM)")
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise EndpointError(f"{name} must not carry credentials in the URL; use the credential variables")
    scheme, host, _ = origin(url)
    if not host:
        raise EndpointError(f"{name} has no host: {url!r}")
    if scheme == "https":
        return url
    if scheme == "http" and sandbox and is_loopback(host):
        return url
    if scheme == "http" and is_loopback(host):
        raise EndpointError(f"{name} is plain http ({url}); set {SANDBOX_ENDPOINTS_ENV}=1 if it is the local "
                            "sandbox, else use https")
    raise EndpointError(f"{name} must be an https URL, got {url!r}"
                        + (" (plain http is allowed only for the sandbox on a loopback host)" if sandbox else ""))


def check_same_origin(service_address: str, wsdl_url: str) -> None:
    """Refuse a SOAP service address on another origin than the WSDL it was read from."""
    if origin(service_address) != origin(wsdl_url):
        raise EndpointError(f"the WSDL at {wsdl_url} sends calls to {service_address}, another origin; refusing "
                            "to send credentials there (check GREENLIGHT_PW_WSDL_URL)")
