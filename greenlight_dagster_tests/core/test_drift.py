"""The drift rules: why a linked PW work order and SF job disagree, what to do, and what the push
already handles (no warehouse: rows as the link query returns them)."""

from __future__ import annotations

from typing import Any

import pytest

from greenlight_dagster.core.drift import drift_counts, drift_reasons, drift_records, unexpected


def _link(**overrides: Any) -> dict[str, Any]:
    row = {"is_known_work_order": True, "pw_deleted": False, "jobs_for_work_order": 1, "pw_status": "Scheduled",
           "pw_canonical": "scheduled", "pw_category": "open", "sf_status": "Scheduled", "sf_canonical": "scheduled",
           "sf_category": "open"}
    return row | overrides


def test_drift_reasons() -> None:
    assert drift_reasons(_link()) == []
    assert [d.kind for d in drift_reasons(_link(pw_status="On Hold", pw_canonical="on_hold"))] == ["status mismatch"]
    assert [d.kind for d in drift_reasons(_link(jobs_for_work_order=2, pw_deleted=True))] == [
        "deleted in PW", "several SF jobs"]
    assert [d.kind for d in drift_reasons(_link(sf_status="Waiting", sf_canonical=None, sf_category=None))] == [
        "unmapped SF status"]
    assert all(d.action for d in drift_reasons(_link(is_known_work_order=False, pw_deleted=True)))


def test_a_job_whose_stamp_is_not_trusted_is_drift_for_a_person_not_a_status_to_push() -> None:
    """A foreign stamp (check number of another work order) is held by the push; the report said "run a sync"."""
    foreign = _link(job_id=8002, stamp_problem="foreign stamp: check_number 51114 is not work order 900114's number "
                    "1114", pw_status="Open", pw_canonical="open", sf_status="Dispatched", sf_canonical="dispatched")
    (reason,) = drift_reasons(foreign)
    assert reason.kind == "untrusted stamp" and not reason.expected
    assert "51114" in reason.detail and "SF job 8002" in reason.action


def test_what_the_push_wrote_is_not_drift() -> None:
    """Issue 20: PW "In Progress" against SF "On Site" warned on every sync, yet it is the push's own write."""
    on_site = _link(pw_status="In Progress", pw_canonical="in_progress", sf_status="On Site", sf_canonical="on_site")
    assert drift_reasons(on_site) == []
    assert drift_reasons(_link(pw_status="Open", pw_canonical="open", sf_status="Unscheduled")) == []


@pytest.mark.parametrize(("write", "expected", "says"), [
    ({"pw_write": "update_work_order", "pw_write_state": "done", "pw_write_status": "In Progress",
      "pw_write_unread": True}, True, "PW status In Progress was pushed after the warehouse last read"),
    ({"pw_write": "update_work_order", "pw_write_state": "planned", "pw_write_unread": False}, True,
     "the push owes PW this update work order (ledger: planned)"),
    ({"pw_write": "update_work_order", "pw_write_state": "dead", "pw_write_unread": False}, False, "failed for good"),
    ({"pw_write": "update_work_order", "pw_write_state": "done", "pw_write_unread": False}, False,
     "no PW write is planned"),  # sent long ago, yet PW is behind again: the warehouse saw it - real drift
    ({}, False, "no PW write is planned"),
])
def test_a_status_difference_the_ledger_handles_is_expected(write: dict[str, Any], expected: bool, says: str) -> None:
    (reason,) = drift_reasons(_link(pw_status="Scheduled", sf_status="On Site", sf_canonical="on_site", **write))
    assert reason.kind == "status mismatch" and reason.expected is expected and says in reason.detail, reason
    assert reason.action


def test_drift_records_flatten_the_reasons_and_leave_out_agreeing_pairs() -> None:
    ids = {"work_order_number": 1100, "job_id": 8100}
    agreeing = _link(work_order_id=100, **ids)
    pushed = _link(work_order_id=101, pw_status="Scheduled", sf_status="On Site", sf_canonical="on_site",
                   pw_write="update_work_order", pw_write_state="planned", **ids)
    broken = _link(work_order_id=102, jobs_for_work_order=2, pw_deleted=True, **ids)
    records = drift_records([agreeing, pushed, broken])
    assert [r["work_order_id"] for r in records] == [101, 102]
    assert records[0]["expected"] and records[0]["sf_job_id"] == 8100
    assert records[1]["kind"] == "deleted in PW; several SF jobs" and not records[1]["expected"]
    assert records[1]["action"].count("; ") == 1 and records[1]["why"].count("; ") == 1
    assert unexpected(records) == [records[1]]


def test_drift_counts_count_each_kind_of_a_record_most_frequent_first() -> None:
    drift = [{"kind": "deleted in PW; several SF jobs"}, {"kind": "several SF jobs"}, {"kind": "status mismatch"}]
    assert list(drift_counts(drift).items()) == [("several SF jobs", 2), ("deleted in PW", 1),
                                                 ("status mismatch", 1)]
