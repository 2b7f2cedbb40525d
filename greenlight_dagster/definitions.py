"""The GreenLight Sync code location: every folder under ``defs/`` plus what they share.

Dagster walks ``defs/`` (``[tool.dg]`` in pyproject.toml): every module's assets, checks, jobs,
schedules and sensors, and each domain folder's resources from the ``@dg.definitions`` function
of its ``definitions.py``; this module adds the one resource every domain uses and the executor.
Nothing runs when this module is imported: loading the secrets from SSM and importing the domains
(which reads the dbt manifest) happen when Dagster - or a ``greenlight`` command, through
`load_definitions` - loads the location.

Every run - ``sync``, ``backfill``, ``push``, and what the UI's *Materialize* and backfill dialogs
launch - executes its steps one after the other in the run worker's process, as ``greenlight
sync`` does. Dagster's default multiprocess executor starts a Python process per step, each
loading the definitions again: 32 step processes on a 2-core machine made a UI-launched sync
~11x slower than the same work from the command line (issue 20). PropertyWare and ServiceFusion
are still used side by side: the steps that talk to them run one thread per API (`lib.lanes`,
decision 0021), and dbt builds the whole warehouse in one step.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import dagster as dg

from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.lib.secrets import load_secrets


@dg.definitions
def defs() -> dg.Definitions:
    load_secrets()  # GREENLIGHT_SECRETS=ssm: export the SSM parameters before any resource reads its dg.EnvVar
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(executor=dg.in_process_executor, resources={"warehouse": WarehouseResource()}),
    )


@cache
def load_definitions() -> dg.Definitions:
    """The location's definitions, built once per process (commands and tests use them many times)."""
    return defs()
