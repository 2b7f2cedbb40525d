"""The dbt project without a database: it parses offline, and its status data agrees with core/.

The status seeds and core/statuses.py are two spellings of one policy (SQL and Python); if they
drift, the warehouse and the push disagree about which work orders are open. These checks are
cheap, so they run on every change to either side.
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from greenlight_dagster.core.statuses import (
    DEFAULT_OPEN_STATUSES,
    DEFAULT_PW_TERMINAL,
    DEFAULT_PW_TO_SF,
    DEFAULT_SF_TO_PW,
    normalize_status,
)
from greenlight_dagster.defs.warehouse.project import DBT_PROJECT_DIR, ManifestPreparer, dbt_project, manifest_is_stale
from greenlight_dagster.defs.warehouse.resources import make_dbt_resource

SEEDS = DBT_PROJECT_DIR / "seeds"


def _mapping() -> dict[tuple[str, str], dict[str, str]]:
    with (SEEDS / "status_mapping.csv").open(newline="") as handle:
        return {(row["system"], normalize_status(row["source_status"])): row for row in csv.DictReader(handle)}


def test_open_statuses_seed_is_the_core_default() -> None:
    with (SEEDS / "open_statuses.csv").open(newline="") as handle:
        seeded = [row["status"] for row in csv.DictReader(handle)]
    assert sorted(map(normalize_status, seeded)) == sorted(map(normalize_status, DEFAULT_OPEN_STATUSES))


def test_status_mapping_covers_every_status_core_knows() -> None:
    mapping = _mapping()
    for pw_status, sf_status in DEFAULT_PW_TO_SF:
        assert ("pw", normalize_status(pw_status)) in mapping, pw_status
        assert ("sf", normalize_status(sf_status)) in mapping, sf_status
    for sf_status, _action, pw_status in DEFAULT_SF_TO_PW:
        assert ("sf", normalize_status(sf_status)) in mapping, sf_status
        if pw_status:
            assert ("pw", normalize_status(pw_status)) in mapping, pw_status
    for terminal in DEFAULT_PW_TERMINAL:
        assert mapping[("pw", normalize_status(terminal))]["category"] == "closed", terminal


def test_open_list_statuses_are_open_in_the_mapping() -> None:
    mapping = _mapping()
    for status in DEFAULT_OPEN_STATUSES:
        rows = [row for (system, key), row in mapping.items() if key == normalize_status(status)]
        assert rows and all(row["category"] == "open" for row in rows), status


def test_manifest_command_parses_without_a_database() -> None:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("GREENLIGHT_DBT_", "DBT_GREENLIGHT_"))}
    env["DBT_GREENLIGHT_HOST"] = "no-such-host.invalid"  # parse must never connect
    result = subprocess.run(
        [sys.executable, "-m", "greenlight_dagster.defs.warehouse.manifest"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.strip().endswith("manifest.json")
    assert dbt_project.manifest_path.exists()


def test_a_missing_or_stale_manifest_is_parsed_and_a_fresh_one_is_left_alone(tmp_path: Path) -> None:
    """Outside `dagster dev` the code location parses only when the manifest is missing or older than the
    project (an edited model must not run against an old manifest), and never otherwise."""
    copy = tmp_path / "dbt_warehouse"
    shutil.copytree(dbt_project.project_dir, copy, ignore=shutil.ignore_patterns("target", "logs"))
    project = DbtProject(project_dir=copy, profiles_dir=copy)
    preparer = ManifestPreparer()
    preparer.prepare_if_dev(project)  # missing: parsed
    parsed_at = project.manifest_path.stat().st_mtime_ns
    preparer.prepare_if_dev(project)  # fresh: left alone
    assert project.manifest_path.stat().st_mtime_ns == parsed_at
    model = copy / "models" / "marts" / "core" / "dim_date.sql"
    os.utime(model, ns=(parsed_at + 10**9, parsed_at + 10**9))
    assert manifest_is_stale(project)
    preparer.prepare_if_dev(project)
    assert not manifest_is_stale(project) and project.manifest_path.stat().st_mtime_ns > parsed_at


def _models(layer: str) -> list[dict[str, Any]]:
    """The models under ``models/<layer>`` in a manifest parsed from the files as they are now."""
    ManifestPreparer().prepare_if_dev(dbt_project)  # an edited model must not be judged by an old manifest
    nodes = json.loads(dbt_project.manifest_path.read_text())["nodes"].values()
    return [node for node in nodes if node["resource_type"] == "model" and node["fqn"][1] == layer]


def test_marts_read_models_only() -> None:
    """The dbt-labs layering (decision 0019): a mart reads staging or later models, never a source table,
    so a rename or cast of a source lives in one staging model. The one exception reports raw text that
    staging has already cast to NULL."""
    reading_sources = sorted(node["name"] for node in _models("marts")
                             if any(dep.startswith("source.") for dep in node["depends_on"]["nodes"]))
    assert reading_sources == ["bad_source_values"]


def test_each_staging_model_reads_one_source_and_nothing_else() -> None:
    """Staging renames and casts one source table; whatever combines or filters models is intermediate."""
    reads = {node["name"]: node["depends_on"]["nodes"] for node in _models("staging")}
    assert reads and {name: deps for name, deps in reads.items()
                      if len(deps) != 1 or not deps[0].startswith("source.")} == {}


def test_an_invocation_asks_no_version_subprocess_and_loads_no_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two start-up costs `WarehouseDbtCliResource` skips (3.6 s of each build), through the hooks it overrides."""
    import dagster_dbt.core.resource as dagster_dbt_resource

    assert {"_cli_version", "_initialize_dbt_core_adapter"} <= set(vars(DbtCliResource)), (
        "dagster-dbt renamed a hook WarehouseDbtCliResource overrides: the override no longer applies")

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError(f"a subprocess was started: {args}")

    monkeypatch.setattr(dagster_dbt_resource, "check_output", refuse)
    resource = make_dbt_resource()
    assert resource._cli_version == Version(importlib.metadata.version("dbt-core"))
    assert resource._cli_version.major < 2, "dbt Core, not Fusion: dagster-dbt's Core code path applies"
    assert resource._initialize_dbt_core_adapter(["build"]) is None
