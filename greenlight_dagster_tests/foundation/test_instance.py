"""A materialization through a real DagsterInstance on dagster-postgres storage lands in Postgres."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.instance.home import project_root
from greenlight_dagster.warehouse.connection import DAGSTER_STORAGE_URL_ENV


@dg.asset
def heartbeat() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"beat": 1})


def test_run_events_are_stored_in_postgres(warehouse_url: URL, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copyfile(project_root() / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize([heartbeat], instance=instance)
        assert result.success
        run_id = result.run_id
    dagster_db = create_engine(os.environ[DAGSTER_STORAGE_URL_ENV])
    with dagster_db.connect() as conn:
        events = conn.execute(text("select count(*) from event_logs where run_id = :r"), {"r": run_id}).scalar_one()
        stored = conn.execute(text("select count(*) from runs where run_id = :r"), {"r": run_id}).scalar_one()
    dagster_db.dispose()
    assert stored == 1
    assert events > 3



def test_the_first_visit_shows_the_asset_graph(warehouse_url: URL, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's own settings: no "Join the Dagster community" dialog, no usage statistics (issue 20.6)."""
    shutil.copyfile(project_root() / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert instance.nux_enabled is False
        assert instance.telemetry_enabled is False


def test_loading_the_definitions_prints_no_beta_notice_of_ours() -> None:
    """The backfill_policy BetaWarning came once per partitioned asset in every Dagster process (issue 20.5)."""
    out = subprocess.run([sys.executable, "-W", "always", "-c", "import greenlight_dagster.definitions"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "backfill_policy" not in out.stderr
