"""One `greenlight dev` for the UI tests: the browser test and the operator's path share its start (~30 s)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenlight_dagster_tests.conftest import make_server_dir
from greenlight_dagster_tests.ui.dagster_ui import DagsterUi, greenlight_dev


@pytest.fixture(scope="package")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DagsterUi, Path]]:
    """`greenlight dev` (what `make dev` runs) on the small sandbox world, with its own data dir."""
    root = make_server_dir()  # the embedded server runs as an unprivileged user: a traversable, short path
    data_dir = root / "data"
    log = tmp_path_factory.mktemp("dev") / "dev.log"
    try:
        with greenlight_dev(data_dir, log) as ui:
            yield ui, data_dir
    finally:
        shutil.rmtree(root, ignore_errors=True)
