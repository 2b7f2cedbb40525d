"""The PropertyWare connection as a Dagster resource: configuration in, the configured APIs out."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.pw_facade import PropertyWare
from greenlight_dagster.clients.pw_rest import PropertyWareRestClient
from greenlight_dagster.clients.resilience import CircuitBreaker, RetryPolicy
from greenlight_dagster.core.ledger import orphan_grace
from greenlight_dagster.core.pw_api import API_ENV, PwApis, select_apis
from greenlight_dagster.lib.endpoints import deployment_endpoint
from greenlight_dagster.lib.run_breaker import run_breaker

#: Connection settings and the docs/operations.md §1 variable each one is read from. The endpoint
#: URLs are not resource fields at all (decision 0015): run config could otherwise send the
#: credentials to a host of the Launchpad user's choosing. Credentials left empty are read too.
CONNECTION_ENV = {
    "wsdl_url": "GREENLIGHT_PW_WSDL_URL",
    "username": "GREENLIGHT_PW_USERNAME",
    "password": "GREENLIGHT_PW_PASSWORD",
    "rest_url": "GREENLIGHT_PW_REST_URL",
    "client_id": "GREENLIGHT_PW_CLIENT_ID",
    "client_secret": "GREENLIGHT_PW_CLIENT_SECRET",
    "system_id": "GREENLIGHT_PW_SYSTEM_ID",
    "api": API_ENV,
}
ENDPOINTS = ("wsdl_url", "rest_url")
SOAP_FIELDS = ("wsdl_url", "username", "password")
REST_FIELDS = ("rest_url", "client_id", "client_secret", "system_id")


class PropertyWareResource(dg.ConfigurableResource):
    """PropertyWare's SOAP and/or REST connection and client tuning.

    Every credential left empty is read from its ``GREENLIGHT_PW_*`` variable when a client is
    built (`CONNECTION_ENV`), so secrets never sit in run config or the UI; the endpoint URLs are
    read only from the deployment's environment and checked (`lib.endpoints`). Either API may be
    absent: ``api`` (``GREENLIGHT_PW_API``: soap, rest or auto) and what is configured decide which
    one reads and which one writes (`core.pw_api`). One client per materialization: its counters
    are that asset's; its circuit breaker is the run's (`lib.run_breaker`), shared by both APIs -
    one PropertyWare, one outage.
    """

    username: str = ""
    password: str = Field(default="", repr=False)
    client_id: str = ""
    client_secret: str = Field(default="", repr=False)
    system_id: str = ""
    api: str = ""
    timeout_seconds: float = 90.0
    max_pages: int = 20_000
    max_response_bytes: int = 64 * 1024 * 1024
    rest_page_size: int = 500
    rest_requests_per_second: float = Field(default=10.0, gt=0)  # the documented limit (decision 0023)
    max_attempts: int = 6
    backoff_base_seconds: float = 0.5
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 60.0
    _breaker: CircuitBreaker | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """One breaker for every PropertyWare client of the run (`lib.run_breaker`)."""
        self._breaker = run_breaker(context, "PropertyWare", failure_threshold=self.breaker_failure_threshold,
                                    reset_after=self.breaker_reset_seconds)

    def setting(self, name: str) -> str:
        """A connection setting: an endpoint from the environment only, else the field or its variable."""
        value = "" if name in ENDPOINTS else getattr(self, name)
        return str(value or os.environ.get(CONNECTION_ENV[name], "")).strip()

    def apis(self) -> PwApis:
        """The APIs in use; `core.pw_api.PwApiConfigError` (one sentence) when the choice cannot be met."""
        return select_apis(self.setting("api"), soap_configured=all(self.setting(f) for f in SOAP_FIELDS),
                           rest_configured=all(self.setting(f) for f in REST_FIELDS))

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, base_delay=self.backoff_base_seconds)

    def orphan_grace(self) -> timedelta:
        """The ledger's orphan grace for writes through this resource (`core.ledger.orphan_grace`)."""
        return orphan_grace(PropertyWareClient.longest_write_seconds(self.timeout_seconds, self.retry_policy()))

    def build_client(self, log: Any = None) -> PropertyWare:
        apis = self.apis()
        retry = self.retry_policy()
        soap = PropertyWareClient(
            deployment_endpoint(CONNECTION_ENV["wsdl_url"]), self.setting("username"), self.setting("password"),
            timeout=self.timeout_seconds, max_pages=self.max_pages, max_response_bytes=self.max_response_bytes,
            retry=retry, log=log,
            breaker=self._breaker) if apis.soap else None
        rest = PropertyWareRestClient(
            deployment_endpoint(CONNECTION_ENV["rest_url"]), self.setting("client_id"), self.setting("client_secret"),
            self.setting("system_id"), timeout=self.timeout_seconds, page_size=self.rest_page_size, retry=retry,
            log=log, breaker=self._breaker, requests_per_second=self.rest_requests_per_second) if apis.rest else None
        return PropertyWare(apis, soap=soap, rest=rest)


def default_resource() -> PropertyWareResource:
    """The resource as deployed: every connection setting from the environment (docs/operations.md §1)."""
    return PropertyWareResource()


#: The domain's resources by key, as the Definitions and the tests bind them.
resources = {"propertyware": default_resource()}
