"""Planted secrets never surface: not in the CLI's output, logs, Dagster run events, ops.* rows or errors.

Two ``greenlight sync`` runs against a sandbox that accepts distinctive planted credentials:
one that works under injected faults (so retries, warnings and failed steps write their
messages), and one with wrong credentials (so the authentication failures write theirs, the
classic place a client echoes what it sent). Then every place an operator or an attacker with
read access could look is searched for the four planted values.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._serdes import serialize_value
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.cli import main
from greenlight_dagster.instance.environ import environment_set
from greenlight_dagster.instance.home import project_root
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster_tests.reliability.harness import (
    SF_RATE_LIMIT,
    SYNC_FLAGS,
    isolated_database,
    warehouse_in_force,
)

PW_SECRET, SF_SECRET = "pw-PLANTED-7fQx2LmZ9c", "sf-PLANTED-Kd83NvR1ws"
WRONG_PW_SECRET, WRONG_SF_SECRET = "pw-WRONG-PLANTED-4hT6", "sf-WRONG-PLANTED-9pB2"
PLANTED = (PW_SECRET, SF_SECRET, WRONG_PW_SECRET, WRONG_SF_SECRET)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


@pytest.fixture
def planted_world(warehouse_url: URL, tmp_path: Path) -> Iterator[tuple[Sandbox, Engine]]:
    """A sandbox that accepts the planted credentials, an isolated warehouse and a private DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(project_root() / "dagster.yaml", home / "dagster.yaml")
    with isolated_database(warehouse_url) as url, warehouse_in_force(url) as engine, Sandbox(
            seed=5, scale="small", pw_options={"password": PW_SECRET},
            sf_options={"client_secret": SF_SECRET, "rate_limit_per_minute": SF_RATE_LIMIT}) as sandbox, \
            environment_set({**sandbox.env(), **SYNC_FLAGS, "DAGSTER_HOME": str(home)}):
        yield sandbox, engine


def _run_events(run_ids: list[str]) -> str:
    """Every event of the runs (messages, errors with stack traces, metadata), serialized as Dagster stores them."""
    with dg.DagsterInstance.get() as instance:
        parts = [serialize_value(instance.get_run_by_id(run_id)) for run_id in run_ids]
        parts += [serialize_value(record) for run_id in run_ids for record in instance.all_logs(run_id)]
    return "\n".join(parts)


def _ops_rows(engine: Engine) -> str:
    with engine.connect() as conn:
        tables = conn.execute(text("select table_name from information_schema.tables where table_schema = 'ops'"
                                   " and table_type = 'BASE TABLE'")).scalars().all()
        return "\n".join(row for table in tables
                         for row in conn.execute(text(f'select to_jsonb(t)::text from ops."{table}" t')).scalars())


def test_planted_secrets_appear_nowhere(planted_world: tuple[Sandbox, Engine], caplog: pytest.LogCaptureFixture,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    sandbox, engine = planted_world
    caplog.set_level("DEBUG")
    sandbox.state.faults.add({"server": "sf", "operation": "*", "kind": "error", "rate": 0.2, "seed": 1})
    sandbox.state.faults.add({"server": "pw", "operation": "getVendors", "kind": "reset", "rate": 1.0})
    runner = CliRunner()
    faulty = runner.invoke(main, ["sync"])
    sandbox.state.faults.clear()
    with environment_set({"GREENLIGHT_PW_PASSWORD": WRONG_PW_SECRET, "GREENLIGHT_SF_CLIENT_SECRET": WRONG_SF_SECRET}):
        refused = runner.invoke(main, ["sync"])
    assert faulty.exit_code != 0 and refused.exit_code != 0  # both runs failed somewhere: their errors are searched
    assert "authentication failed" in refused.output or "credentials refused" in refused.output, refused.output

    run_ids = sorted(set(re.findall(r"\(run ([0-9a-f-]{36}),", faulty.output + refused.output)))
    assert len(run_ids) == 2, faulty.output + refused.output
    captured = capfd.readouterr()
    places = {
        "CLI output": faulty.output + refused.output,
        "exceptions": f"{faulty.exception!r} {refused.exception!r}",
        "Python logs": caplog.text,
        "process stdout/stderr": captured.out + captured.err,
        "Dagster run events": _run_events(run_ids),
        "ops.* rows": _ops_rows(engine),
    }
    assert "circuit breaker" in places["Dagster run events"]  # the failures really wrote messages
    leaks = {place: [s for s in PLANTED if s in content] for place, content in places.items()}
    assert not any(leaks.values()), leaks
