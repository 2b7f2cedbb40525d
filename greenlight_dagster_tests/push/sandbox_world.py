"""A small PW + SF world on the sandbox servers, and helpers to plan and push against it.

One `SandboxState` serves both servers, so a job created over SF REST and a work order closed
over PW SOAP are visible to each other and to the assertions, which read the sandbox state
and its request log - never our own counters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.pw_wire import parse_utc
from greenlight_dagster.clients.resilience import RetryPolicy
from greenlight_dagster.clients.servicefusion import ServiceFusionClient
from greenlight_dagster.core.dedup import stamped_work_order_ids
from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.plan import ProgressCandidate, PushPlan, WorkOrderCandidate, build_push_plan
from greenlight_dagster.outbox.bulk_verify import WorkOrderSnapshot
from greenlight_dagster.outbox.executor import ExecuteOptions, ExecutionReport, execute
from greenlight_dagster.outbox.gateways import PropertyWareGateway, ServiceFusionGateway, customer_search
from greenlight_dagster.sandbox.httpbase import SandboxHTTPServer
from greenlight_dagster.sandbox.pw_server import create_pw_server
from greenlight_dagster.sandbox.sf_server import create_sf_server
from greenlight_dagster.sandbox.state import SandboxState
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster_tests.factories import pw_work_order

CLIENT_ID, CLIENT_SECRET = "greenlight-push", "push-secret"
PW_USER, PW_PASSWORD = "pw-push", "pw-secret"
SEND_ALL = SyncFlags(dry_run=False, enable_service_fusion=True, safe_mode=False, pw_verify_strict=False)
WORK_ORDER_IDS = (9000, 9001, 9002, 9003, 9004)
CUSTOMER_ID = 7000
ADDRESS = {"address": "12 Oak St", "city": "Austin", "stateRegion": "TX", "postalCode": "78701"}


def work_order(wo_id: int, status: str = "Open") -> dict[str, Any]:
    return pw_work_order(wo_id, buildingID=10, unitID=100 + wo_id % 2, status=status, type="Service Request",
                         description=f"Kitchen sink leaking in flat {wo_id}", createdDateTime="2026-01-03T09:00:00Z",
                         lastModifiedDateTime="2026-01-03T09:00:00Z")


def world() -> dict[str, Any]:
    stamp = "2026-01-02T10:00:00Z"
    return {
        "version": 1, "clock": "2026-01-05T12:00:00Z",
        "propertyware": {
            "portfolios": [{"id": 1, "name": "Oak Holdings", "abbreviation": "OAK", "active": True,
                            "lastModifiedDateTime": stamp}],
            "buildings": [{"id": 10, "portfolioID": 1, "name": "12 Oak St", "abbreviation": "12OAK",
                           "multiUnit": True, "countUnit": 2, "category": "RESIDENTIAL", "address": ADDRESS,
                           "lastModifiedDateTime": stamp}],
            "units": [{"id": 100, "buildingID": 10, "portfolioID": 1, "name": "Unit A", "abbreviation": "12OAK-A",
                       "lastModifiedDateTime": stamp},
                      {"id": 101, "buildingID": 10, "portfolioID": 1, "name": "Unit B", "abbreviation": "12OAK-B",
                       "lastModifiedDateTime": stamp}],
            "workOrders": [work_order(wo_id) for wo_id in WORK_ORDER_IDS],
        },
        "servicefusion": {
            "customers": [{"id": CUSTOMER_ID, "customer_name": "Oak Holdings", "parent_customer": None,
                           "contacts": [], "locations": [], "custom_fields": [
                               {"name": "PW Portfolio ID", "value": "1"}],
                           "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"}],
            "jobs": [],
        },
    }


@dataclass
class Sandbox:
    """Both sandbox servers over one state, plus client factories."""

    state: SandboxState
    sf: SandboxHTTPServer
    pw: SandboxHTTPServer

    def sf_client(self, timeout: float = 5.0) -> ServiceFusionClient:
        return ServiceFusionClient(f"{self.sf.base_url}/v1", f"{self.sf.base_url}/oauth/access_token", CLIENT_ID,
                                   CLIENT_SECRET, rate_limit_per_minute=6000, timeout=timeout,
                                   retry=RetryPolicy(max_attempts=3, base_delay=0.01))

    def pw_client(self) -> PropertyWareClient:
        return PropertyWareClient(f"{self.pw.base_url}/pw/services/PWServices?wsdl", PW_USER, PW_PASSWORD,
                                  timeout=5, retry=RetryPolicy(max_attempts=3, base_delay=0.01))

    def jobs_for(self, wo_id: int) -> list[dict[str, Any]]:
        """SF jobs in the sandbox stamped with this work order (the invariant is about these)."""
        return [job for job in self.state.snapshot()["servicefusion"]["jobs"] if wo_id in stamped_work_order_ids(job)]

    def requests(self, method: str, operation: str) -> list[dict[str, Any]]:
        return [r for r in self.state.request_log() if r["method"] == method and r["operation"] == operation]

    def pw_requests(self, operation: str) -> list[dict[str, Any]]:
        return [r for r in self.state.request_log() if r["server"] == "pw" and r["operation"] == operation]

    def work_order(self, wo_id: int) -> dict[str, Any]:
        return next(w for w in self.state.snapshot()["propertyware"]["workOrders"] if w["id"] == wo_id)


@contextmanager
def running_sandbox() -> Iterator[Sandbox]:
    state = SandboxState(world())
    sf = create_sf_server(state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, rate_limit_per_minute=6000,
                          hang_seconds=0.3)
    pw = create_pw_server(state, username=PW_USER, password=PW_PASSWORD)
    sf.start()
    pw.start()
    try:
        yield Sandbox(state, sf, pw)
    finally:
        sf.stop()
        pw.stop()


def job_candidates(sandbox: Sandbox, wo_ids: tuple[int, ...] = WORK_ORDER_IDS) -> list[WorkOrderCandidate]:
    """Candidates as the warehouse would hand them over, built from the sandbox's own records."""
    snapshot = sandbox.state.snapshot()["propertyware"]
    units = {u["id"]: u for u in snapshot["units"]}
    building = snapshot["buildings"][0]
    customer = {"id": CUSTOMER_ID, "customer_name": "Oak Holdings"}
    return [WorkOrderCandidate(work_order=wo, customer=customer, unit=units.get(wo["unitID"]), building=building,
                               sf_category="Plumbing")
            for wo in snapshot["workOrders"] if wo["id"] in wo_ids]


def progress_candidates(sandbox: Sandbox) -> list[ProgressCandidate]:
    snapshot = sandbox.state.snapshot()
    categories = {s["name"]: s["category"] for s in snapshot["servicefusion"]["job_statuses"]}
    work_orders = {w["id"]: w for w in snapshot["propertyware"]["workOrders"]}
    candidates = []
    for job in snapshot["servicefusion"]["jobs"]:
        for wo_id in stamped_work_order_ids(job):
            candidates.append(ProgressCandidate(job, work_orders[wo_id], categories.get(job["status"])))
    return candidates


def plan(store: LedgerStore, flags: SyncFlags, **candidates: Any) -> PushPlan:
    """Build the plan as `reconcile/push_plan` does and record it in the ledger."""
    ids = {str(c.work_order["id"]) for group in candidates.values() for c in group}
    push_plan = build_push_plan(flags, ledger=store.ledger_for_plan(ids), **candidates)
    store.record_plan(push_plan.writes, now=datetime.now(UTC), run_id="plan")
    return push_plan


def later(hours: float = 2) -> datetime:
    """A clock past any backoff: retries are due."""
    return datetime.now(UTC) + timedelta(hours=hours)


def push_jobs(store: LedgerStore, sandbox: Sandbox, flags: SyncFlags = SEND_ALL, *, run_id: str = "push",
              options: ExecuteOptions | None = None, at: datetime | None = None,
              timeout: float = 5.0) -> ExecutionReport:
    gateway = ServiceFusionGateway(sandbox.sf_client(timeout), customer_search=customer_search(sandbox.sf_client()))
    return execute(store, gateway, flags, ("create_job", "create_customer"), run_id=run_id,
                   options=options or ExecuteOptions(orphan_grace=timedelta(0)),
                   clock=(lambda: at) if at is not None else lambda: datetime.now(UTC))


def ingested_snapshot(sandbox: Sandbox, client: PropertyWareClient | None = None,
                      overlap: timedelta = timedelta(minutes=5)) -> WorkOrderSnapshot:
    """A `WorkOrderSnapshot` as a push step builds it right after an ingest of the sandbox's work
    orders as they are now: the warehouse holds these versions, and the high-water mark is the
    newest lastModifiedDateTime among them."""
    pw = client or sandbox.pw_client()
    ingested = {w["id"]: dict(w) for w in sandbox.state.snapshot()["propertyware"]["workOrders"]}
    high_water = max(parse_utc(w["lastModifiedDateTime"]) for w in ingested.values())
    return WorkOrderSnapshot(get=pw.get_work_order, stored=ingested.get,
                             read_changed=lambda: pw.iter_records("work_orders", modified_from=high_water - overlap))


def push_pw(store: LedgerStore, sandbox: Sandbox, flags: SyncFlags = SEND_ALL, *,
            at: datetime | None = None, snapshot: WorkOrderSnapshot | None = None) -> ExecutionReport:
    return execute(store, PropertyWareGateway(sandbox.pw_client(), snapshot=snapshot), flags,
                   ("update_work_order", "close_work_order", "attach_note"), run_id="push-pw",
                   options=ExecuteOptions(orphan_grace=timedelta(0)),
                   clock=(lambda: at) if at is not None else lambda: datetime.now(UTC))
