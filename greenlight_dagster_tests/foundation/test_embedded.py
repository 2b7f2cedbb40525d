"""The embedded PostgreSQL: starts, keeps data across restarts, stops, serves two processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from greenlight_dagster.warehouse.embedded import EmbeddedWarehouse


def test_start_restart_keeps_data_and_stop(server_dir: Path) -> None:
    wh = EmbeddedWarehouse(server_dir / "e")
    url = wh.start()
    assert wh.is_running()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("create table kept (v text)"))
        conn.execute(text("insert into kept values ('survives')"))
    engine.dispose()
    assert wh.stop() is True
    assert not wh.is_running()
    assert wh.stop() is False

    url = EmbeddedWarehouse(server_dir / "e").start()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("select v from kept")).scalar_one() == "survives"
        # A second process attaches to the same server while we hold a connection.
        code = (
            "import sys; from sqlalchemy import create_engine, text;"
            f"from greenlight_dagster.warehouse.embedded import EmbeddedWarehouse as W;"
            f"u = W(__import__('pathlib').Path({str(server_dir / 'e')!r})).start();"
            "e = create_engine(u);"
            "c = e.connect(); print(c.execute(text('select v from kept')).scalar_one())"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == "survives"
        assert conn.execute(text("select 1")).scalar_one() == 1
    engine.dispose()
    assert EmbeddedWarehouse(server_dir / "e").stop() is True


def test_refuses_a_data_dir_the_server_user_cannot_reach(tmp_path: Path) -> None:
    """As root the server runs as ``pgserver``; a 0700 parent would crash it at its first checkpoint."""
    if os.geteuid() != 0:
        pytest.skip("only root hands the server to the unprivileged pgserver user")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    with pytest.raises(RuntimeError, match="not traversable by others"):
        EmbeddedWarehouse(locked / "e").start()
