"""``reconcile/sync_report``: measures each run, charts the history, explains every PW/SF disagreement;
and the business-hours freshness policy of the raw assets."""

from __future__ import annotations

import base64
import re
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.defs import propertyware, servicefusion
from greenlight_dagster.defs.freshness import RAW_FRESHNESS, with_business_hours_freshness
from greenlight_dagster.defs.reconcile import SyncFlagsResource
from greenlight_dagster.defs.reconcile.report import SYNC_REPORT, asset_checks, drift_reasons, sync_report
from greenlight_dagster.defs.resources import WarehouseResource

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _materialize(engine: Engine) -> dg.ExecuteInProcessResult:
    resources = {"warehouse": WarehouseResource(url=engine.url.render_as_string(hide_password=False)),
                 "sync_flags": SyncFlagsResource()}
    return dg.materialize([sync_report, *asset_checks], resources=resources, selection=[SYNC_REPORT],
                          raise_on_error=False)


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.get_asset_materialization_events()
    return dict(event.step_materialization_data.materialization.metadata)


def test_report_explains_each_disagreement_and_embeds_a_chart(marts_engine: Engine) -> None:
    result = _materialize(marts_engine)
    assert result.success
    metadata = _metadata(result)
    drift = {row.data["work_order_id"]: row.data for row in metadata["drift"].records}
    assert drift[9100]["kind"] == "closed in PW, open in SF"
    assert drift[9101]["kind"] == "closed in SF, open in PW" and "no PW write is planned" in drift[9101]["why"]
    assert drift[9101]["action"].startswith("run a sync")
    assert drift[9999]["kind"] == "unknown PW work order"
    # SF Scheduled calls for PW Scheduled, and no sync has planned it yet
    assert drift[9000]["kind"] == "status mismatch" and not drift[9000]["expected"]
    assert 9003 not in drift  # an SF status the push maps to no PW change: they agree
    assert metadata["drift_records"].value == len(drift)

    report = metadata["report"].value
    assert "Drift: 4 record(s) where PW and SF disagree" in report and "| closed in PW, open in SF | 1 |" in report
    image = re.search(r"!\[last 1 runs\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", report)
    assert image is not None and base64.b64decode(image.group(1)).startswith(PNG_MAGIC)
    coverage = metadata["mapping_coverage"].value
    assert 0 < coverage < 1  # the scenario leaves portfolio 3 unmapped on purpose

    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity is dg.AssetCheckSeverity.WARN
    assert check.metadata["records"].value == 4


def test_each_run_is_measured_in_ops_and_the_chart_spans_the_runs(marts_engine: Engine) -> None:
    first, second = _materialize(marts_engine), _materialize(marts_engine)
    with marts_engine.connect() as conn:
        stored = {row.run_id: row.measures for row in conn.execute(text(
            "select run_id, stats->'sync_report' as measures from ops.sync_runs"))}
    assert set(stored) == {first.run_id, second.run_id}
    assert stored[first.run_id]["records_synced"] == 0  # this run landed nothing; the scenario's runs did
    assert stored[second.run_id]["dead_letters"] == 0 and stored[second.run_id]["mapping_coverage"] > 0
    assert _metadata(second)["runs_in_chart"].value == 2
    assert "![last 2 runs]" in _metadata(second)["report"].value


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


def test_raw_assets_get_the_business_hours_freshness_policy() -> None:
    raw = [*propertyware.assets, *servicefusion.assets]
    fresh = with_business_hours_freshness(raw)
    specs = [spec for asset in fresh for spec in asset.specs]
    assert {spec.key for spec in specs} == {key for asset in raw for key in asset.keys}
    assert all(spec.freshness_policy == RAW_FRESHNESS for spec in specs)
    assert {spec.key: spec.partitions_def for a in raw for spec in a.specs} == {
        spec.key: spec.partitions_def for spec in specs}
