"""The ServiceFusion connection as a Dagster resource: configuration in, a fresh client out."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from greenlight_dagster.clients.resilience import CircuitBreaker, RetryPolicy
from greenlight_dagster.clients.servicefusion import MAX_PER_PAGE, ServiceFusionClient
from greenlight_dagster.core.ledger import orphan_grace
from greenlight_dagster.lib.endpoints import deployment_endpoint
from greenlight_dagster.lib.run_breaker import run_breaker

BASE_URL_ENV = "GREENLIGHT_SF_BASE_URL"
TOKEN_URL_ENV = "GREENLIGHT_SF_TOKEN_URL"
RATE_LIMIT_ENV = "GREENLIGHT_SF_RATE_LIMIT_PER_MINUTE"
DOCUMENTED_RATE_LIMIT = 60


class ServiceFusionResource(dg.ConfigurableResource):
    """ServiceFusion OAuth2 client credentials and client tuning.

    Credentials come from ``GREENLIGHT_SF_*`` through `dg.EnvVar`, so the UI shows the variable
    names, never the secrets. The API and token URLs are not configuration: they are read from
    ``GREENLIGHT_SF_BASE_URL``/``GREENLIGHT_SF_TOKEN_URL`` when a client is built
    (`lib.endpoints`), so run config cannot send the client secret elsewhere.
    ``rate_limit_per_minute`` is the API's per-token budget: unset, it is
    ``GREENLIGHT_SF_RATE_LIMIT_PER_MINUTE`` when an account (or the demo's sandbox) has a
    different limit, else the documented 60. Every client built in a run shares the run's circuit
    breaker (`lib.run_breaker`). Numbers out of range (a page of 0, no attempts, a negative wait)
    are refused when the resource is configured.
    """

    client_id: str
    client_secret: str = Field(repr=False)
    rate_limit_per_minute: int | None = Field(default=None, ge=1)
    per_page: int = Field(default=50, ge=1, le=MAX_PER_PAGE)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    max_attempts: int = Field(default=6, ge=1, le=20)
    backoff_base_seconds: float = Field(default=0.5, ge=0, le=60)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_reset_seconds: float = Field(default=60.0, ge=0, le=3600)
    _breaker: CircuitBreaker | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """One breaker for every ServiceFusion client of the run (`lib.run_breaker`)."""
        self._breaker = run_breaker(context, "ServiceFusion", failure_threshold=self.breaker_failure_threshold,
                                    reset_after=self.breaker_reset_seconds)

    def effective_rate_limit(self) -> int:
        if self.rate_limit_per_minute is not None:
            return self.rate_limit_per_minute
        return int(os.environ.get(RATE_LIMIT_ENV) or DOCUMENTED_RATE_LIMIT)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, base_delay=self.backoff_base_seconds)

    def orphan_grace(self) -> timedelta:
        """The ledger's orphan grace for writes through this resource (`core.ledger.orphan_grace`)."""
        return orphan_grace(ServiceFusionClient.longest_write_seconds(self.timeout_seconds, self.retry_policy()))

    def build_client(self, log: Any = None) -> ServiceFusionClient:
        return ServiceFusionClient(
            deployment_endpoint(BASE_URL_ENV), deployment_endpoint(TOKEN_URL_ENV), self.client_id, self.client_secret,
            rate_limit_per_minute=self.effective_rate_limit(), per_page=self.per_page, timeout=self.timeout_seconds,
            retry=self.retry_policy(), log=log,
            breaker=self._breaker,
        )


def default_resource() -> ServiceFusionResource:
    """The resource as deployed: everything from the environment (docs/operations.md §1)."""
    return ServiceFusionResource(
        client_id=dg.EnvVar("GREENLIGHT_SF_CLIENT_ID"),
        client_secret=dg.EnvVar("GREENLIGHT_SF_CLIENT_SECRET"),
    )


#: The domain's resources by key, as the Definitions and the tests bind them.
resources = {"servicefusion": default_resource()}
