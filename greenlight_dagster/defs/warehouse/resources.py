"""The dbt CLI resource, bound to the warehouse connection in force.

dbt reads its connection from ``DBT_GREENLIGHT_*`` and ``DBT_ENV_SECRET_GREENLIGHT_PASSWORD``
(dbt_warehouse/profiles.yml; `warehouse.connection.dbt_env`). This resource sets them
for every invocation - from ``url`` when the caller names the database (the dbt assets pass
their ``warehouse`` resource's), else ``warehouse_url`` config, else the project-wide rule
(``GREENLIGHT_WAREHOUSE_URL``, else the embedded server) - so any caller reaches the intended
PostgreSQL without remembering to export anything.

Tests run only when every model they read is built in the same invocation (dbt's ``buildable``
indirect selection, not ``eager``). A subset build - what one run of a date-range backfill
does for the dbt assets upstream of the range - replaces views, and PostgreSQL drops the views
that read them (dbt swaps a view in and drops the old one with ``cascade``) until the run that
builds those is done. Under ``eager`` a test reading such a view (``unit_belongs_to_building``
reads ``int_pw_work_orders`` and ``int_pw_units``) ran in the first run and failed with
'relation "staging.stg_pw_work_orders" does not exist' (issue 20); the run that rebuilds the
view runs it. A whole build (every sync) selects everything, so nothing changes for it.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from dagster_dbt import DbtCliInvocation, DbtCliResource
from dagster_dbt.asset_utils import DBT_INDIRECT_SELECTION_ENV
from packaging.version import Version
from sqlalchemy.engine import URL

from greenlight_dagster.defs.warehouse.project import dbt_executable, dbt_project
from greenlight_dagster.instance.environ import environment_set
from greenlight_dagster.warehouse.connection import dbt_env, normalize_url, warehouse_url


class WarehouseDbtCliResource(DbtCliResource):
    """`DbtCliResource` that exports the warehouse connection before running dbt.

    Two start-up costs of each invocation are skipped, measured at 3.6 s of an incremental build's
    10.9 s (decision 0017): dagster-dbt asks ``dbt --version`` in a subprocess, and loads dbt's
    adapter with every macro in this process. Both override dagster-dbt's private hooks;
    `test_dbt_project.py` fails if an upgrade renames them.
    """

    warehouse_url: str = ""

    @cached_property
    def _cli_version(self) -> Version:
        """The interpreter's own dbt (`dbt_executable`) is the installed dbt-core: its package metadata has
        the version ``dbt --version`` would print after 2.3 s of start-up. Any other executable is asked."""
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return Version(importlib.metadata.version("dbt-core"))
        return cast(Version, super()._cli_version)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        """No in-process adapter: dagster-dbt uses it only for column and row-count metadata
        (``fetch_column_metadata``, ``fetch_row_counts``), which these assets do not fetch."""
        return None

    def resolved_warehouse_url(self) -> URL:
        return normalize_url(self.warehouse_url) if self.warehouse_url else warehouse_url()

    def cli(  # type: ignore[override]
        self, args: Sequence[str], *, url: URL | None = None, **kwargs: Any
    ) -> DbtCliInvocation:
        """``dbt <args>`` against ``url`` (default: `resolved_warehouse_url`).

        dagster-dbt builds dbt's environment from ``os.environ`` (the subprocess's and its own
        adapter's), with no parameter for more, so the variables are set for the duration of the
        call only: the process is started inside it, and nothing leaks into later code."""
        env = {**dbt_env(url if url is not None else self.resolved_warehouse_url()),
               DBT_INDIRECT_SELECTION_ENV: "buildable"}
        prune_invocation_dirs(Path(self.project_dir) / "target")
        with environment_set(env):
            return super().cli(args, **kwargs)


#: dbt's record of its last parse: reused when the project files, vars and connection are unchanged.
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def keep_partial_parse(invocation: DbtCliInvocation) -> bool:
    """Make a finished invocation's parse the one the next invocation starts from; True when one was kept.

    dagster-dbt starts each invocation from ``target/partial_parse.msgpack`` but writes the new parse
    into the invocation's own directory, so ``target/`` keeps the install-time parse (``dbt parse``
    with no database). Its connection differs from the warehouse's, and dbt re-parses the whole
    project on every invocation ("profile has changed"): about 5 s of each sync's dbt step. Plain dbt
    writes ``target/`` itself; this restores that. The file is replaced atomically, so an invocation
    starting at the same moment reads the old parse or the new one, never half of one.
    """
    source = Path(invocation.target_path) / PARTIAL_PARSE_FILE
    if not source.is_file():
        return False
    target = Path(invocation.project_dir) / "target"
    staged = target / f".{PARTIAL_PARSE_FILE}.{os.getpid()}"
    shutil.copyfile(source, staged)
    os.replace(staged, target / PARTIAL_PARSE_FILE)
    return True


#: dagster-dbt gives every invocation its own directory under ``target/`` (``<op>-<run>-<id>`` or ``<id>``).
INVOCATION_DIR = re.compile(r"^(?:[a-z0-9_]+-[0-9a-f]{7}-)?[0-9a-f]{7}$")
#: How many invocations' artifacts (run_results.json, compiled SQL, dbt.log) stay for a look afterwards.
KEEP_INVOCATIONS = 20


def prune_invocation_dirs(target: Path, keep: int = KEEP_INVOCATIONS) -> list[Path]:
    """Remove all but the ``keep`` newest invocation directories; returns what was removed.

    Nothing in dagster-dbt removes them, and each holds a copy of the manifest (3-6 MB): a
    deployment syncing every 30 minutes would add ~300 MB a day. The newest ones are kept, so an
    invocation running beside this one (another run) keeps its directory."""
    if not target.is_dir():
        return []
    dirs = [path for path in target.iterdir() if path.is_dir() and INVOCATION_DIR.match(path.name)]
    dirs.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    for path in dirs[keep:]:
        shutil.rmtree(path, ignore_errors=True)
    return dirs[keep:]


def make_dbt_resource(url: str = "") -> WarehouseDbtCliResource:
    """The resource for ``dbt_warehouse`` (profiles.yml sits in the project dir)."""
    return WarehouseDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable(), warehouse_url=url)


#: The domain's resources by key, as the Definitions and the tests bind them.
resources = {"dbt": make_dbt_resource()}
