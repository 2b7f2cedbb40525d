"""Everything a Dagster process needs in its environment to use our instance and warehouse.

Local and production share one ``dagster.yaml``; only environment variables differ. This
module fills them in for local use: the warehouse URL (embedded unless configured), the
Dagster storage URL (a ``dagster`` database beside it) and a ``DAGSTER_HOME`` that holds the
project's ``dagster.yaml``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from greenlight_dagster.instance.storage import ensure_storage_database
from greenlight_dagster.warehouse import migrate
from greenlight_dagster.warehouse.connection import (
    DAGSTER_STORAGE_URL_ENV,
    WAREHOUSE_URL_ENV,
    make_engine,
    warehouse_url,
)
from greenlight_dagster.warehouse.embedded import PACKAGE_ROOT, EmbeddedWarehouse, data_dir


def project_root() -> Path:
    return PACKAGE_ROOT if (PACKAGE_ROOT / "dagster.yaml").exists() else Path.cwd()


def dagster_home() -> Path:
    """``$DAGSTER_HOME`` if set, else ``.greenlight/dagster_home`` holding a copy of the project's dagster.yaml."""
    configured = os.environ.get("DAGSTER_HOME")
    if configured:
        return Path(configured)
    home = data_dir() / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(project_root() / "dagster.yaml", home / "dagster.yaml")
    return home


def prepare_dagster_env() -> tuple[dict[str, str], Callable[[], None]]:
    """Start/migrate the warehouse and return (environment for Dagster processes, stop callback).

    The callback stops the embedded server only if this call is what started it. Dagster's
    storage database is checked (and created when missing and allowed) here, before any
    Dagster process needs it: `StorageUnavailable` says in one sentence what to do.
    """
    embedded = not os.environ.get(WAREHOUSE_URL_ENV)
    already_running = embedded and EmbeddedWarehouse().is_running()
    url = warehouse_url()
    storage = ensure_storage_database()  # before migrating: a deployment that cannot run stops untouched
    migrate.upgrade(make_engine(url))
    env = {
        WAREHOUSE_URL_ENV: url.render_as_string(hide_password=False),
        DAGSTER_STORAGE_URL_ENV: storage.render_as_string(hide_password=False),
        "DAGSTER_HOME": str(dagster_home()),
        "GREENLIGHT_PROJECT_ROOT": str(project_root()),
    }

    def stop() -> None:
        if embedded and not already_running:
            EmbeddedWarehouse().stop()

    return env, stop
