"""The local stand-ins for production services, for commands that run the sync here.

Production is configured entirely by environment variables (docs/operations.md §1). Locally the
embedded PostgreSQL stands in for the warehouse (`prepare_dagster_env`) and, when
``GREENLIGHT_SANDBOX=1``, the sandbox servers stand in for PropertyWare and ServiceFusion.
The sandbox's world is saved under the data directory when the command ends and resumed
next time, so a rehearsal behaves like a real account: the second sync sees what the first
one created, and the warehouse's ledger and the sandbox never disagree.

One process owns the sandbox at a time. While it runs (`greenlight dev` for as long as the UI
is up), its URLs and throw-away credentials are in ``sandbox/running.json`` (mode 0600) under
the data directory, and every other command that would use the sandbox - one with no PW/SF
settings, or ``GREENLIGHT_SANDBOX=1`` - talks to that one instead of starting its own: two
sandboxes resumed from the same saved world would each write back their own version of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click
import requests
from sqlalchemy.exc import OperationalError

from greenlight_dagster.core.endpoints import SANDBOX_ENV, sandbox_in_use
from greenlight_dagster.core.pw_api import REST_VARIABLES, SOAP_VARIABLES
from greenlight_dagster.defs.servicefusion.resources import DOCUMENTED_RATE_LIMIT, RATE_LIMIT_ENV
from greenlight_dagster.instance.environ import environment_set
from greenlight_dagster.instance.home import prepare_dagster_env
from greenlight_dagster.instance.storage import StorageUnavailable
from greenlight_dagster.warehouse.connection import WAREHOUSE_URL_ENV
from greenlight_dagster.warehouse.embedded import data_dir

SF_CONNECTION_ENV = ("GREENLIGHT_SF_BASE_URL", "GREENLIGHT_SF_TOKEN_URL", "GREENLIGHT_SF_CLIENT_ID",
                     "GREENLIGHT_SF_CLIENT_SECRET")
#: The connection variables (docs/operations.md §1): without the sandbox, ServiceFusion's and those of
#: one PropertyWare API (`core.pw_api`) must be set.
CONNECTION_ENV = (*SOAP_VARIABLES, *REST_VARIABLES, *SF_CONNECTION_ENV)


def sandbox_state_file() -> Path:
    return data_dir() / "sandbox" / "state.json"


def running_sandbox_file() -> Path:
    return data_dir() / "sandbox" / "running.json"


def _publish_running(env: Mapping[str, str], admin_url: str) -> Path:
    """Tell other commands where this process's sandbox answers (owner-only file: it holds its credentials)."""
    path = running_sandbox_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"pid": os.getpid(), "admin_url": admin_url, "env": dict(env)}, out)
    tmp.replace(path)
    return path


def _withdraw_running(path: Path) -> None:
    """Remove the record if it is still this process's (a later owner may have replaced a stale one)."""
    with contextlib.suppress(FileNotFoundError, ValueError, OSError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user
    return True


def running_sandbox() -> dict[str, Any] | None:
    """The sandbox another command (`greenlight dev`) is serving, if its process is alive and it answers."""
    try:
        record = json.loads(running_sandbox_file().read_text())
        pid, admin_url, env = int(record["pid"]), str(record["admin_url"]), dict(record["env"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid() or not _alive(pid):
        return None
    try:
        answered = requests.get(f"{admin_url}/clock", timeout=5).ok
    except requests.RequestException:
        answered = False
    return {"pid": pid, "admin_url": admin_url, "env": env} if answered else None


def sandbox_requested(env: Mapping[str, str] = os.environ) -> bool:
    return sandbox_in_use(env)


def missing_connection_settings(env: Mapping[str, str] = os.environ) -> list[str]:
    """The unset variables; PropertyWare's are those of the API that lacks fewest (SOAP on a tie)."""
    lacking = [[name for name in names if not env.get(name)] for names in (SOAP_VARIABLES, REST_VARIABLES)]
    pw_missing = min(lacking, key=len) if all(lacking) else []
    return pw_missing + [name for name in SF_CONNECTION_ENV if not env.get(name)]


def prepared_dagster_env() -> tuple[dict[str, str], Callable[[], None]]:
    """`prepare_dagster_env`, with an unreachable warehouse or unusable Dagster storage as one sentence (exit 1)."""
    try:
        return prepare_dagster_env()
    except OperationalError as exc:
        raise click.ClickException(
            f"cannot reach the warehouse ({str(exc.orig).strip().splitlines()[0]}): check {WAREHOUSE_URL_ENV} "
            "or start the local one with `greenlight warehouse up`."
        ) from None
    except StorageUnavailable as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def local_sandbox(*, scale: str, seed: int, sf_options: dict[str, Any] | None = None,
                  echo: Callable[[str], None] = click.echo, pw_api: str = "soap") -> Iterator[dict[str, str]]:
    """Run the sandbox servers (resuming the saved world, else a generated one) and save it on exit.

    ``pw_api`` (soap, rest, both): the PropertyWare API variables handed to the sync (`Sandbox.env`)."""
    from greenlight_dagster.sandbox.runner import Sandbox

    state_file = sandbox_state_file()
    fixture = json.loads(state_file.read_text()) if state_file.exists() else None
    sandbox = Sandbox(fixture, seed=seed, scale=scale, sf_options=sf_options).start()
    echo(f"sandbox: {'resumed ' + str(state_file) if fixture else f'new {scale} world (seed {seed})'}; "
         f"admin API at {sandbox.info['admin_url']}")
    # The SF limit goes with it: a command attaching (the demo's 600/minute, say) must pace to this sandbox.
    client_env = {**sandbox.env(pw_api),
                  RATE_LIMIT_ENV: str((sf_options or {}).get("rate_limit_per_minute", DOCUMENTED_RATE_LIMIT))}
    published = _publish_running(client_env, sandbox.info["admin_url"])
    try:
        yield client_env
    finally:
        _withdraw_running(published)
        state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(sandbox.state.snapshot()))
        tmp.replace(state_file)
        sandbox.stop()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while local stand-ins run, so their clean-up still happens.

    A supervisor, `timeout` or a closed terminal stops a command with SIGTERM, whose default
    action skips every ``finally``: the sandbox world would not be saved (the next sync would
    meet a ledger that disagrees with it) and the embedded PostgreSQL would be left running.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def local_environment(*, scale: str = "demo", seed: int = 0, force_sandbox: bool = False,
                      extra_env: Mapping[str, str] | None = None,
                      sf_options: dict[str, Any] | None = None, pw_api: str = "soap") -> Iterator[dict[str, str]]:
    """Warehouse (+ sandbox when asked) for this process and its children, torn down on exit.

    Exports the environment into ``os.environ`` too, because in-process Dagster runs read
    their resources' `dg.EnvVar` values from there. Without the sandbox, every connection
    variable must be set; a missing one is one clear sentence, not a failed run later.
    """
    missing = missing_connection_settings()
    use_sandbox = force_sandbox or sandbox_requested()
    attached = running_sandbox() if use_sandbox or missing else None
    if attached is not None:
        click.echo(f"sandbox: using the one process {attached['pid']} serves (`greenlight dev`); admin API at "
                   f"{attached['admin_url']}", err=True)
    elif not use_sandbox and missing:
        raise click.ClickException(
            f"{', '.join(missing)} not set: point them at PropertyWare and ServiceFusion "
            f"(README, 'Pointing it at production'), start `make dev` (commands then use its sandbox), "
            f"or set {SANDBOX_ENV}=1 to use the local sandbox."
        )
    with sigterm_as_interrupt():
        yield from _stand_ins(use_sandbox, attached=attached["env"] if attached else None, scale=scale, seed=seed,
                              extra_env=extra_env, sf_options=sf_options, pw_api=pw_api)


def _stand_ins(use_sandbox: bool, *, attached: dict[str, str] | None, scale: str, seed: int,
               extra_env: Mapping[str, str] | None, sf_options: dict[str, Any] | None,
               pw_api: str) -> Iterator[dict[str, str]]:
    env, stop_warehouse = prepared_dagster_env()
    env = {**env, **(extra_env or {})}
    try:
        with environment_set(env):
            if attached is not None:
                with environment_set(attached):
                    yield {**env, **attached}
            elif use_sandbox:
                with local_sandbox(scale=scale, seed=seed, sf_options=sf_options, pw_api=pw_api,
                                   echo=lambda m: click.echo(m, err=True)) as sandbox_env, \
                        environment_set(sandbox_env):
                    yield {**env, **sandbox_env}
            else:
                yield env
    finally:
        stop_warehouse()
        sys.stdout.flush()
