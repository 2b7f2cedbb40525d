"""Which PropertyWare API reads and each write go through (``GREENLIGHT_PW_API``, decision 0011).

PropertyWare has two APIs and neither does everything the sync needs (docs/apis/propertyware.md §4-5):

* REST v1 reads every entity with a real ``lastModifiedDateTime``, creates work orders and
  closes them (``PUT /workorders/closeworkorder/{id}``, which needs a time card entry naming a
  vendor), but has **no general work-order update** and no way to attach a note;
* the legacy SOAP service updates a work order's status (``updateWorkOrder``), closes it and
  attaches notes, but its structs carry no modification time.

So reads go through one API (``soap``, ``rest``, or ``auto``: REST when its key is set, else
SOAP), and each write through an API that can make it: creates through REST; status changes
and notes through SOAP; closes through SOAP when it is configured (it needs no vendor), else
through REST when the work order names an assigned vendor. A write no configured API can make
is held back with the reason `route_write` gives - never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

API_SETTINGS = ("soap", "rest", "auto")
API_ENV = "GREENLIGHT_PW_API"
#: Which PropertyWare APIs a deployment has configured (the sandbox and the demo offer each).
DEPLOYMENTS = ("soap", "rest", "both")
SOAP_VARIABLES = ("GREENLIGHT_PW_WSDL_URL", "GREENLIGHT_PW_USERNAME", "GREENLIGHT_PW_PASSWORD")
REST_VARIABLES = ("GREENLIGHT_PW_REST_URL", "GREENLIGHT_PW_CLIENT_ID", "GREENLIGHT_PW_CLIENT_SECRET",
                  "GREENLIGHT_PW_SYSTEM_ID")


class PwApiConfigError(ValueError):
    """The PropertyWare API choice cannot be met by what is configured (one sentence, what to set)."""


@dataclass(frozen=True)
class PwApis:
    """The configured APIs and the one reads go through."""

    soap: bool
    rest: bool
    reads: str  # "soap" | "rest"

    def describe(self) -> str:
        """One line for summaries: the read API and what each configured API is used for."""
        if self.soap and self.rest:
            return f"{self.reads.upper()} reads; REST creates; SOAP status changes, closes and notes"
        return f"{self.reads.upper()} only"


SOAP_ONLY = PwApis(soap=True, rest=False, reads="soap")


def select_apis(setting: str | None, *, soap_configured: bool, rest_configured: bool) -> PwApis:
    """The APIs in use for ``GREENLIGHT_PW_API`` = ``setting`` (empty: ``auto``), or `PwApiConfigError`."""
    choice = (setting or "auto").strip().lower()
    if choice not in API_SETTINGS:
        raise PwApiConfigError(f"{API_ENV} must be one of {', '.join(API_SETTINGS)}, got {setting!r}")
    if not (soap_configured or rest_configured):
        raise PwApiConfigError(f"PropertyWare is not configured: set {', '.join(REST_VARIABLES)} (REST API) "
                               f"or {', '.join(SOAP_VARIABLES)} (SOAP API).")
    if choice == "soap" and not soap_configured:
        raise PwApiConfigError(f"{API_ENV}=soap but the SOAP API is not configured: set {', '.join(SOAP_VARIABLES)}.")
    if choice == "rest" and not rest_configured:
        raise PwApiConfigError(f"{API_ENV}=rest but the REST API is not configured: set {', '.join(REST_VARIABLES)}.")
    reads = choice if choice != "auto" else ("rest" if rest_configured else "soap")
    return PwApis(soap=soap_configured, rest=rest_configured, reads=reads)


@dataclass(frozen=True)
class WriteRoute:
    """The API a write goes through, or None and why it cannot be made."""

    api: str | None
    reason: str = ""


def assigned_vendor(work_order: Mapping[str, Any]) -> int | None:
    """The first assigned vendor's id: what a REST close names in its time card entry."""
    vendors = work_order.get("assignedVendors")
    first = vendors[0] if isinstance(vendors, list) and vendors else None
    vendor = first.get("id") if isinstance(first, Mapping) else None
    return vendor if type(vendor) is int else None


def route_write(operation: str, apis: PwApis, work_order: Mapping[str, Any] | None = None) -> WriteRoute:
    """Where a PropertyWare write goes (module docstring). ``work_order``, when known, decides
    whether a REST close can name a vendor; without it a REST close is attempted and the API decides."""
    if operation == "create_work_order":
        return WriteRoute("rest") if apis.rest else WriteRoute(
            None, f"creating a work order needs the REST API ({', '.join(REST_VARIABLES)})")
    if operation in ("update_work_order", "attach_note"):
        what = "status changes" if operation == "update_work_order" else "notes"
        return WriteRoute("soap") if apis.soap else WriteRoute(
            None, f"REST v1 has no work-order {what}; they need the SOAP API ({', '.join(SOAP_VARIABLES)})")
    if operation == "close_work_order":
        if apis.soap:
            return WriteRoute("soap")
        if not apis.rest:
            return WriteRoute(None, "no PropertyWare API is configured")
        if work_order is not None and assigned_vendor(work_order) is None:
            return WriteRoute(None, f"a REST close needs a time card entry naming a vendor and work order "
                                    f"{work_order.get('id')} has no assigned vendor; the SOAP API "
                                    f"({', '.join(SOAP_VARIABLES)}) can close it")
        return WriteRoute("rest")
    raise ValueError(f"{operation!r} is not a PropertyWare write")
