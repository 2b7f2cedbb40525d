"""core.pw_api: which PropertyWare API reads, which one makes each write, and what is held back."""

from __future__ import annotations

from typing import Any

import pytest

from greenlight_dagster.core.flags import SyncFlags
from greenlight_dagster.core.plan import HoldReason, ProgressCandidate, build_push_plan
from greenlight_dagster.core.pw_api import PwApiConfigError, PwApis, route_write, select_apis

REST_ONLY = PwApis(soap=False, rest=True, reads="rest")
BOTH = PwApis(soap=True, rest=True, reads="rest")
SOAP_ONLY = PwApis(soap=True, rest=False, reads="soap")


@pytest.mark.parametrize(("setting", "soap", "rest", "reads"), [
    ("auto", True, True, "rest"), ("", True, False, "soap"), (None, False, True, "rest"),
    ("soap", True, True, "soap"), (" REST ", True, True, "rest"), ("rest", False, True, "rest"),
])
def test_reads_follow_the_setting_and_what_is_configured(setting: str | None, soap: bool, rest: bool,
                                                         reads: str) -> None:
    assert select_apis(setting, soap_configured=soap, rest_configured=rest) == PwApis(soap, rest, reads)


@pytest.mark.parametrize(("setting", "soap", "rest", "message"), [
    ("auto", False, False, "PropertyWare is not configured: set GREENLIGHT_PW_REST_URL"),
    ("soap", False, True, "GREENLIGHT_PW_API=soap but the SOAP API is not configured: set GREENLIGHT_PW_WSDL_URL"),
    ("rest", True, False, "GREENLIGHT_PW_API=rest but the REST API is not configured: set GREENLIGHT_PW_REST_URL"),
    ("graphql", True, True, "GREENLIGHT_PW_API must be one of soap, rest, auto"),
])
def test_an_impossible_choice_is_one_clear_sentence(setting: str, soap: bool, rest: bool, message: str) -> None:
    with pytest.raises(PwApiConfigError, match=message):
        select_apis(setting, soap_configured=soap, rest_configured=rest)


def test_each_write_goes_where_it_can_be_made() -> None:
    with_vendor = {"id": 9, "assignedVendors": [{"id": 700, "name": "FastFix"}]}
    without_vendor = {"id": 9}
    assert route_write("create_work_order", REST_ONLY).api == "rest"
    assert route_write("create_work_order", BOTH).api == "rest"
    assert route_write("update_work_order", BOTH).api == "soap"
    assert route_write("attach_note", BOTH).api == "soap"
    assert route_write("close_work_order", BOTH, without_vendor).api == "soap"
    assert route_write("close_work_order", SOAP_ONLY, without_vendor).api == "soap"
    assert route_write("close_work_order", REST_ONLY, with_vendor).api == "rest"
    assert route_write("close_work_order", REST_ONLY).api == "rest"  # unknown work order: the API decides


@pytest.mark.parametrize(("operation", "apis", "work_order", "reason"), [
    ("update_work_order", REST_ONLY, None, "REST v1 has no work-order status changes"),
    ("attach_note", REST_ONLY, None, "REST v1 has no work-order notes"),
    ("create_work_order", SOAP_ONLY, None, "creating a work order needs the REST API"),
    ("close_work_order", REST_ONLY, {"id": 9, "assignedVendors": []}, "work order 9 has no assigned vendor"),
])
def test_a_write_no_api_can_make_says_why(operation: str, apis: PwApis, work_order: dict[str, Any] | None,
                                          reason: str) -> None:
    route = route_write(operation, apis, work_order)
    assert route.api is None and reason in route.reason


def test_an_unknown_operation_is_a_bug() -> None:
    with pytest.raises(ValueError, match="not a PropertyWare write"):
        route_write("create_job", BOTH)


def _progress(status: str, **work_order: Any) -> ProgressCandidate:
    return ProgressCandidate(sf_job={"id": 1, "number": "1", "status": status, "tech_notes": "Replaced the trap"},
                             work_order={"id": 9, "status": "Open", "category": "Plumbing", **work_order})


def test_the_plan_holds_what_rest_alone_cannot_write_and_keeps_the_rest() -> None:
    flags = SyncFlags()
    started, completed = _progress("Started"), _progress("Completed", id=10)
    vendored = _progress("Completed", id=11, assignedVendors=[{"id": 700}])
    plan = build_push_plan(flags, progress=[started, completed, vendored], pw_apis=REST_ONLY)
    assert [(w.operation, w.source_id) for w in plan.writes] == [("close_work_order", "11")]
    held = {(h.operation, h.source_id): h for h in plan.held_back}
    assert set(held) == {("update_work_order", "9"), ("attach_note", "9"), ("close_work_order", "10"),
                         ("attach_note", "10"), ("attach_note", "11")}
    assert all(h.reason is HoldReason.PW_API_UNAVAILABLE for h in held.values())
    assert "no assigned vendor" in held[("close_work_order", "10")].detail
    assert plan.summary()["held.pw_api_unavailable"] == 5
    rows = [row for row in plan.preview_rows() if row["action"] == "hold"]
    assert all(row["detail"].startswith("pw_api_unavailable: ") for row in rows)


def test_with_soap_configured_nothing_is_held_for_the_api() -> None:
    progress = [_progress("Started"), _progress("Completed", id=10)]
    for apis in (SOAP_ONLY, BOTH):
        plan = build_push_plan(SyncFlags(), progress=progress, pw_apis=apis)
        assert not plan.held_back
        assert sorted(w.operation for w in plan.writes) == ["attach_note", "attach_note", "close_work_order",
                                                           "update_work_order"]
