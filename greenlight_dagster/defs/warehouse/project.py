"""The dbt project (``dbt_warehouse/``) as Dagster sees it, and how its manifest is produced.

The manifest is what turns models, snapshots, seeds and tests into assets and checks, so the
code location cannot load without it. It comes from ``dbt parse``, which needs no database
(the profile falls back to harmless defaults when ``DBT_GREENLIGHT_*`` are unset). It is
prepared by ``python -m greenlight_dagster.defs.warehouse.manifest`` at install time, by
``dagster dev`` on every load, and - so a fresh checkout never fails to load and an edited
project never runs against an old manifest - at import time whenever the manifest is missing
or older than the project's files.

dbt is run from the interpreter's own environment (`dbt_executable`): the Makefile and
services call ``.venv/bin/python`` without activating the venv, so ``dbt`` is not on PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from dagster._utils import run_with_concurrent_update_guard
from dagster_dbt import DbtCliResource, DbtProject

from greenlight_dagster.warehouse.dbt_graph import PROJECT_INPUTS

#: The repository root: this file is greenlight_dagster/defs/warehouse/project.py.
REPO_ROOT = Path(__file__).resolve().parents[3]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_warehouse"
MANIFEST_COMMAND = "python -m greenlight_dagster.defs.warehouse.manifest"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The ``dbt`` beside the running interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return str(beside)
    return shutil.which("dbt") or "dbt"


def parse_project(project: DbtProject = dbt_project) -> Path:
    """``dbt parse`` into the project's target dir; safe against a concurrent parse of the same project."""

    def _parse(project: DbtProject) -> None:
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()

    run_with_concurrent_update_guard(project.manifest_path, _parse, project=project)
    return project.manifest_path


def manifest_is_stale(project: DbtProject = dbt_project) -> bool:
    """Whether the manifest is missing or older than any file of the dbt project.

    A stale manifest is not harmless: ``dbt build`` runs the nodes on disk, and dagster-dbt
    fails on a node its manifest does not know. Checking mtimes of a few dozen files is cheap.
    """
    if not project.manifest_path.exists():
        return True
    built_at = project.manifest_path.stat().st_mtime
    for name in PROJECT_INPUTS:
        root = project.project_dir / name
        paths = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())
        if any(path.stat().st_mtime > built_at for path in paths):
            return True
    return False


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """The manifest path, parsing first when it is stale (`manifest_is_stale`) or under ``dagster dev``.

    Raises a RuntimeError naming the manifest command when parsing fails, so a broken dbt
    project reads as a dbt problem rather than an obscure Dagster import error.
    """
    if os.getenv("DAGSTER_IS_DEV_CLI") or manifest_is_stale(project):
        try:
            parse_project(project)
        except Exception as exc:
            raise RuntimeError(
                f"dbt could not parse {project.project_dir} into {project.manifest_path}: {exc}. "
                f"Fix the dbt project, then run `{MANIFEST_COMMAND}`."
            ) from exc
    if not project.manifest_path.exists():
        raise RuntimeError(f"no dbt manifest at {project.manifest_path}; run `{MANIFEST_COMMAND}`")
    return project.manifest_path
