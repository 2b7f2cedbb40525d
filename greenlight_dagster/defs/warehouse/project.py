"""The dbt project (``dbt_warehouse/``) as Dagster sees it, and how its manifest is prepared.

The manifest is what turns models, snapshots, seeds and tests into assets and checks, so the
code location cannot load without it. It comes from ``dbt parse``, which needs no database
(the profile falls back to harmless defaults when ``DBT_GREENLIGHT_*`` are unset), through
dagster-dbt's preparation interface (`DbtProjectPreparer.prepare_if_dev`):

* ``make install`` prepares it (``python -m greenlight_dagster.defs.warehouse.manifest``), so
  an installed checkout loads without running dbt;
* ``dagster dev`` / ``dg dev`` re-parse on every load, as dagster-dbt does by default;
* anywhere else it is re-parsed only when missing or older than the project's files: an edited
  model must never run against an old manifest (dagster-dbt fails on a node it does not know).

dbt is run from the interpreter's own environment (`dbt_executable`): the Makefile and
services call ``.venv/bin/python`` without activating the venv, so ``dbt`` is not on PATH.
"""

from __future__ import annotations

import fcntl
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject, DbtProjectPreparer

from greenlight_dagster.warehouse.dbt_graph import PROJECT_INPUTS

#: The repository root: this file is greenlight_dagster/defs/warehouse/project.py.
REPO_ROOT = Path(__file__).resolve().parents[3]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_warehouse"
MANIFEST_COMMAND = "python -m greenlight_dagster.defs.warehouse.manifest"


def dbt_executable() -> str:
    """The ``dbt`` beside the running interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return str(beside)
    return shutil.which("dbt") or "dbt"


def manifest_is_stale(project: DbtProject) -> bool:
    """Whether the manifest is missing or older than any file of the dbt project (a few dozen mtimes)."""
    if not project.manifest_path.exists():
        return True
    built_at = project.manifest_path.stat().st_mtime
    for name in PROJECT_INPUTS:
        root = project.project_dir / name
        paths = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())
        if any(path.stat().st_mtime > built_at for path in paths):
            return True
    return False


class ManifestPreparer(DbtProjectPreparer):
    """``dbt parse`` with our dbt executable, under a file lock: the webserver, daemon and code servers
    may load the definitions at the same moment, and two parses writing one target dir corrupt it."""

    def prepare_if_dev(self, project: DbtProject) -> None:
        if self.using_dagster_dev() or manifest_is_stale(project):
            self._parse(project, always=self.using_dagster_dev())

    def prepare(self, project: DbtProject) -> None:
        self._parse(project, always=True)

    def _parse(self, project: DbtProject, *, always: bool) -> None:
        target_dir = project.manifest_path.parent  # project.target_path is relative to the project
        target_dir.mkdir(parents=True, exist_ok=True)
        with (target_dir / ".parse.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not always and not manifest_is_stale(project):
                return  # another process parsed while this one waited
            try:
                DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
                    ["parse", "--quiet"], target_path=project.target_path).wait()
            except Exception as exc:
                raise RuntimeError(
                    f"dbt could not parse {project.project_dir} into {project.manifest_path}: {exc}. "
                    f"Fix the dbt project, then run `{MANIFEST_COMMAND}`.") from exc


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
manifest_preparer = ManifestPreparer()
manifest_preparer.prepare_if_dev(dbt_project)
