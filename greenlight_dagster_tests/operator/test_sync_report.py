"""``reconcile/sync_report`` on a built warehouse: measures each run, charts the history, explains every
PW/SF disagreement and warns through its check; and the business-hours freshness policy of the raw
assets. The drift rules and the report's wording are tested without a warehouse in ``core``."""

from __future__ import annotations

import base64
import re
from typing import Any

import dagster as dg
from sqlalchemy import Engine, text

from greenlight_dagster.defs.ingestion.assets import ingest, ingest_daily
from greenlight_dagster.defs.reconcile.report import SYNC_REPORT, sync_report
from greenlight_dagster.defs.reconcile.resources import SyncFlagsResource
from greenlight_dagster.lib.freshness import RAW_FRESHNESS
from greenlight_dagster.lib.resources import WarehouseResource

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _materialize(engine: Engine) -> dg.ExecuteInProcessResult:
    resources = {"warehouse": WarehouseResource(url=engine.url.render_as_string(hide_password=False)),
                 "sync_flags": SyncFlagsResource()}
    return dg.materialize([sync_report], resources=resources, selection=[SYNC_REPORT],
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


def test_raw_assets_get_the_business_hours_freshness_policy() -> None:
    specs = [spec for asset in (ingest, ingest_daily) for spec in asset.specs]
    assert len(specs) == 11 and {spec.key.path[0] for spec in specs} == {"pw", "sf"}
    assert all(spec.freshness_policy == RAW_FRESHNESS for spec in specs)
    assert {spec.key.to_user_string() for spec in specs if spec.partitions_def is not None} == {
        "pw/work_orders", "sf/jobs"}
