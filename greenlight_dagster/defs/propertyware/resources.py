"""The PropertyWare connection as a Dagster resource: configuration in, a fresh client out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.resilience import CircuitBreaker, RetryPolicy
from greenlight_dagster.core.ledger import orphan_grace
from greenlight_dagster.defs.endpoints import deployment_endpoint
from greenlight_dagster.defs.run_breaker import run_breaker

WSDL_URL_ENV = "GREENLIGHT_PW_WSDL_URL"


class PropertyWareResource(dg.ConfigurableResource):
    """PropertyWare SOAP credentials and client tuning.

    Credentials come from ``GREENLIGHT_PW_*`` through `dg.EnvVar`, so the UI shows the variable
    names, never the secrets. The WSDL URL is not configuration at all: it is read from
    ``GREENLIGHT_PW_WSDL_URL`` when a client is built (`defs.endpoints`), so run config cannot
    send the password elsewhere. One client per materialization: its counters are that asset's; its
    circuit breaker is the run's (`defs.run_breaker`), so an outage is paid for once per run.
    """

    username: str
    password: str = Field(repr=False)
    timeout_seconds: float = 90.0
    page_size: int = 100
    max_attempts: int = 6
    backoff_base_seconds: float = 0.5
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 60.0
    _breaker: CircuitBreaker | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """One breaker for every PropertyWare client of the run (`defs.run_breaker`)."""
        self._breaker = run_breaker(context, "PropertyWare", failure_threshold=self.breaker_failure_threshold,
                                    reset_after=self.breaker_reset_seconds)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, base_delay=self.backoff_base_seconds)

    def orphan_grace(self) -> timedelta:
        """The ledger's orphan grace for writes through this resource (`core.ledger.orphan_grace`)."""
        return orphan_grace(PropertyWareClient.longest_write_seconds(self.timeout_seconds, self.retry_policy()))

    def build_client(self, log: Any = None) -> PropertyWareClient:
        return PropertyWareClient(
            deployment_endpoint(WSDL_URL_ENV), self.username, self.password, timeout=self.timeout_seconds,
            page_size=self.page_size,
            retry=self.retry_policy(), log=log,
            breaker=self._breaker,
        )


def default_resource() -> PropertyWareResource:
    """The resource as deployed: everything from the environment (operations.md §1)."""
    return PropertyWareResource(
        username=dg.EnvVar("GREENLIGHT_PW_USERNAME"),
        password=dg.EnvVar("GREENLIGHT_PW_PASSWORD"),
    )
