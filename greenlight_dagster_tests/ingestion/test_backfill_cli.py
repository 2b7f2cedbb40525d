"""``greenlight backfill --from --to`` end to end: the command, the persistent instance, the sandbox, the warehouse.

The other ingestion tests launch partition ranges themselves (and re-run them); this one proves
the operator's command does the same through the shipped ``backfill`` job - raw assets and the
dbt warehouse - one run per chunk, leaving the high-water marks alone.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from greenlight_dagster.cli import main
from greenlight_dagster.instance.home import project_root
from greenlight_dagster_tests.ingestion.fixtures_sandbox import (  # noqa: F401 - fixtures are used by name
    Ingest,
    ingest_fixture,
    modified,
    sandbox_records,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project's dagster.yaml in a private DAGSTER_HOME (storage: the session's dagster database)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(project_root() / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("GREENLIGHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GREENLIGHT_SANDBOX", raising=False)
    return home


def _ids_modified_between(ingest: Ingest, source: str, entity: str, first: date, last: date) -> set[int]:
    start = datetime.combine(first, datetime.min.time(), UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
    field = "lastModifiedDateTime" if source == "pw" else "updated_at"
    return {i for i, r in sandbox_records(ingest.sandbox, source, entity).items() if start <= modified(r, field) < end}


@pytest.mark.slow  # each chunk is a run of the backfill job, dbt build of the warehouse included
def test_greenlight_backfill_reads_the_window_in_chunks(ingest: Ingest, dagster_home: Path) -> None:
    newest_job = max(modified(r, "updated_at") for r in sandbox_records(ingest.sandbox, "sf", "jobs").values())
    last = newest_job.date()
    first = last - timedelta(days=9)
    wanted = {key: _ids_modified_between(ingest, *key, first, last) for key in (("pw", "work_orders"), ("sf", "jobs"))}
    assert all(wanted.values())
    began = datetime.now(UTC)

    result = CliRunner().invoke(main, ["backfill", "--from", first.isoformat(), "--to", last.isoformat(),
                                       "--chunk-days", "5"])

    assert result.exit_code == 0, result.output
    assert f"backfilled {first}..{last} in 2 run(s)" in result.output
    for key, ids in wanted.items():
        assert sorted(r.source_id for r in ingest.rows(*key)) == sorted(ids)
        assert ingest.watermark(*key) is None
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_run_records(dg.RunsFilter(job_name="backfill", tags={"greenlight/trigger": "cli-backfill"},
                                                       created_after=began))
    assert sorted((r.dagster_run.tags["dagster/asset_partition_range_start"],
                   r.dagster_run.tags["dagster/asset_partition_range_end"]) for r in runs) == [
        (first.isoformat(), (first + timedelta(days=4)).isoformat()),
        ((first + timedelta(days=5)).isoformat(), last.isoformat()),
    ]
