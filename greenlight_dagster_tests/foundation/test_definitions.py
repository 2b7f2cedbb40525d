"""The code location loads, validates with the dagster CLI, and its asset graph matches the snapshot.

The snapshot (syrupy, ``__snapshots__/test_definitions/`` beside this file) makes every change to
keys, deps, groups, kinds, owners or checks a deliberate, reviewed diff. Regenerate it with
``pytest greenlight_dagster_tests/foundation/test_definitions.py --snapshot-update``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import yaml
from sqlalchemy.engine import URL
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from greenlight_dagster.definitions import load_definitions
from greenlight_dagster.instance.home import project_root
from greenlight_dagster.lib.secrets import SECRETS_ENV


def asset_graph_snapshot() -> dict[str, Any]:
    defs = load_definitions()
    graph = defs.resolve_asset_graph()
    assets: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "partitioned": node.partitions_def is not None,
            "pools": sorted(node.pools or ()),
            "checks": sorted(c.name for c in node.check_keys),
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


def test_asset_graph_matches_snapshot(snapshot: SnapshotAssertion) -> None:
    assert asset_graph_snapshot() == snapshot.use_extension(JSONSnapshotExtension)


def test_every_pool_runs_one_step_at_a_time() -> None:
    """The pools in the snapshot serialize their steps across runs only through this limit in dagster.yaml:
    one dbt build at a time (concurrent builds re-create each other's views), one step per API stream."""
    config = yaml.safe_load((project_root() / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_dagster_cli_validates_the_workspace(warehouse_url: URL) -> None:
    root = project_root()
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(root / "workspace.yaml")],
        cwd=root, capture_output=True, text=True, timeout=300, env={**os.environ, "DAGSTER_HOME": ""},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Validation successful" in out.stdout + out.stderr


def test_importing_the_location_runs_nothing_loading_it_loads_the_secrets() -> None:
    """A mistyped secrets mode is harmless to import (tests, linters, docs tools) and fails the load itself."""
    mistyped = "vault"
    code = ("import greenlight_dagster.definitions as location\n"
            "print('imported')\n"
            "location.defs()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, SECRETS_ENV: mistyped})
    assert out.stdout.strip() == "imported"
    assert out.returncode != 0 and f"{SECRETS_ENV} must be one of env, ssm, got {mistyped!r}" in out.stderr
