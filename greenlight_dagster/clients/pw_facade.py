"""One PropertyWare for the sync, over whichever of its two APIs are configured (decision 0011).

The ingestion assets and the push gateway talk to `PropertyWare` exactly as they talked to the
SOAP client (`iter_records`, `get_work_order`, `update_work_order`, `close_work_order`,
`attach_note`, `stats`, `breaker`); which API carries each call is `core.pw_api`'s rule, so
the rule lives in one pure place and the clients stay single-API. A write the configured APIs
cannot make raises `PwApiUnavailable` (permanent: a dead letter with the reason) - the plan
holds such writes already; this is the backstop for entries planned under another
configuration.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.pw_rest import PropertyWareRestClient
from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.resilience import CallStats, CircuitBreaker, PermanentError
from greenlight_dagster.core.pw_api import PwApis, route_write


class PwApiUnavailable(PermanentError):
    """No configured PropertyWare API can make this write; the message says which one can."""

    kind = "pw_api_unavailable"


class PropertyWare:
    """The configured PropertyWare APIs behind the SOAP client's interface."""

    def __init__(self, apis: PwApis, *, soap: PropertyWareClient | None = None,
                 rest: PropertyWareRestClient | None = None) -> None:
        if (soap is None) == apis.soap or (rest is None) == apis.rest:
            raise ValueError(f"the clients given do not match the configured APIs ({apis})")
        self.apis = apis
        self.soap = soap
        self.rest = rest

    def __repr__(self) -> str:
        return f"PropertyWare({self.apis.describe()!r}, soap={self.soap!r}, rest={self.rest!r})"

    @property
    def _reader(self) -> PropertyWareClient | PropertyWareRestClient:
        reader = self.rest if self.apis.reads == "rest" else self.soap
        assert reader is not None  # select_apis reads only through a configured API
        return reader

    @property
    def stats(self) -> CallStats:
        """The read API's counters (what the ingestion assets report)."""
        return self._reader.stats

    @property
    def breaker(self) -> CircuitBreaker:
        return self._reader.breaker

    @property
    def records_carry_modified_time(self) -> bool:
        """Whether the read API's records carry their own modified time (REST) or not (legacy SOAP)."""
        return self._reader.records_carry_modified_time

    @property
    def read_until(self) -> datetime | None:
        """After a SOAP read, the end of the window it covered (the mark it earned)."""
        return self._reader.read_until

    # ---- reads ----
    def reads_everything(self, entity: str) -> bool:
        return self._reader.reads_everything(entity)

    def iter_records(self, entity: str, *, modified_from: datetime | None = None, modified_to: datetime | None = None,
                     modified_before: datetime | None = None) -> Iterator[SourceRecord | RejectedRecord]:
        """The read API's records; ``modified_before`` (an exclusive end) is for reads without modified times."""
        if modified_before is None:
            return self._reader.iter_records(entity, modified_from=modified_from, modified_to=modified_to)
        if self.soap is None or self.apis.reads != "soap":
            raise ValueError("modified_before is for the SOAP read only; REST records filter by their own time")
        return self.soap.iter_records(entity, modified_from=modified_from, modified_before=modified_before)

    def get_work_order(self, work_order_id: int) -> dict[str, Any] | None:
        return self._reader.get_work_order(work_order_id)

    # ---- writes ----
    def create_work_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._route("create_work_order")
        assert self.rest is not None  # the route is REST only when REST is configured
        return self.rest.create_work_order(body)

    def update_work_order(self, work_order_id: int, *, status: str | None = None, **fields: Any) -> dict[str, Any]:
        self._route("update_work_order")
        assert self.soap is not None
        return self.soap.update_work_order(work_order_id, status=status, **fields)

    def close_work_order(self, work_order_id: int, *, category: str, closing_comments: str,
                         completed_date: str | None = None, start_date: str | None = None) -> dict[str, Any] | None:
        """The closed work order when the API's answer carries it (REST), else None (legacy SOAP)."""
        if self._route("close_work_order") == "soap":
            assert self.soap is not None
            self.soap.close_work_order(work_order_id, category=category, closing_comments=closing_comments,
                                       completed_date=completed_date, start_date=start_date)
            return None
        assert self.rest is not None
        return self.rest.close_work_order(work_order_id, category=category, closing_comments=closing_comments,
                                          completed_date=completed_date, start_date=start_date)

    def attach_note(self, work_order_id: int, note: str) -> dict[str, Any]:
        self._route("attach_note")
        assert self.soap is not None
        return self.soap.attach_note(work_order_id, note)

    def _route(self, operation: str) -> str:
        route = route_write(operation, self.apis)
        if route.api is None:
            raise PwApiUnavailable(f"PropertyWare {operation}: {route.reason}")
        return route.api
