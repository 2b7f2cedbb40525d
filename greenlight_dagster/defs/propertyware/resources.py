"""The PropertyWare connection as a Dagster resource: configuration in, a fresh client out."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.resilience import CircuitBreaker, RetryPolicy
from greenlight_dagster.defs.run_breaker import run_breaker


class PropertyWareResource(dg.ConfigurableResource):
    """PropertyWare SOAP credentials and client tuning (the page size is the service's, not ours).

    Values come from ``GREENLIGHT_PW_*`` through `dg.EnvVar`, so the UI shows the variable
    names, never the secrets. One client per materialization: its counters are that asset's; its
    circuit breaker is the run's (`defs.run_breaker`), so an outage is paid for once per run.
    """

    wsdl_url: str
    username: str
    password: str
    timeout_seconds: float = 90.0
    max_pages: int = 20_000
    max_response_bytes: int = 64 * 1024 * 1024
    max_attempts: int = 6
    backoff_base_seconds: float = 0.5
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 60.0
    _breaker: CircuitBreaker | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """One breaker for every PropertyWare client of the run (`defs.run_breaker`)."""
        self._breaker = run_breaker(context, "PropertyWare", failure_threshold=self.breaker_failure_threshold,
                                    reset_after=self.breaker_reset_seconds)

    def build_client(self, log: Any = None) -> PropertyWareClient:
        return PropertyWareClient(
            self.wsdl_url, self.username, self.password, timeout=self.timeout_seconds, max_pages=self.max_pages,
            max_response_bytes=self.max_response_bytes,
            retry=RetryPolicy(max_attempts=self.max_attempts, base_delay=self.backoff_base_seconds), log=log,
            breaker=self._breaker,
        )


def default_resource() -> PropertyWareResource:
    """The resource as deployed: everything from the environment (operations.md §1)."""
    return PropertyWareResource(
        wsdl_url=dg.EnvVar("GREENLIGHT_PW_WSDL_URL"),
        username=dg.EnvVar("GREENLIGHT_PW_USERNAME"),
        password=dg.EnvVar("GREENLIGHT_PW_PASSWORD"),
    )
