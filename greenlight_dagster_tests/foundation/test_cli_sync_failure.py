"""A failed `greenlight sync` names the failed steps, the first line of each error and what to do.

No ``from __future__ import annotations``: Dagster reads the ``config`` parameter's type.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from pydantic import Field
from sqlalchemy.engine import URL

from greenlight_dagster.cli import main
from greenlight_dagster.cli.sync import DEFAULT_ADVICE, failure_message, summarize
from greenlight_dagster.instance.environ import environment_set
from greenlight_dagster.instance.home import project_root
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster_tests.reliability.harness import (
    SF_RATE_LIMIT,
    SYNC_FLAGS,
    isolated_database,
    warehouse_in_force,
)


class _Bounded(dg.Config):
    overlap_minutes: float = Field(default=5.0, ge=0)


@dg.asset
def crashes() -> None:
    raise RuntimeError("PW answered 503\nTraceback noise on the second line")


@dg.asset
def refuses() -> None:
    raise dg.Failure("nothing replayed: 7 is not a dead letter")


@dg.asset
def configured(config: _Bounded) -> None:
    """Fails before its body: the run config is out of range."""


@dg.asset(deps=[crashes])
def downstream() -> None:
    """Skipped, not failed, when ``crashes`` fails: not named."""


def test_the_message_names_each_failed_step_its_first_error_line_and_what_to_do() -> None:
    result = dg.materialize([crashes, refuses, configured, downstream], raise_on_error=False,
                            run_config={"ops": {"configured": {"config": {"overlap_minutes": -60}}}})
    message = failure_message(summarize(result))
    assert "failed in 3 step(s)" in message
    assert "crashes: RuntimeError: PW answered 503" in message and "Traceback noise" not in message
    assert "refuses: nothing replayed: 7 is not a dead letter" in message
    assert "configured: ValidationError: 1 validation error for _Bounded overlap_minutes Input should be greater " \
           "than or equal to 0" in message
    assert "correct it in the run config" in message and DEFAULT_ADVICE in message
    assert f"(run {result.run_id}," in message and "downstream" not in message


@pytest.fixture
def sync_world(warehouse_url: URL, tmp_path: Path) -> Iterator[Sandbox]:
    """A small sandbox, an isolated warehouse and a private DAGSTER_HOME, as `greenlight sync` sees them."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(project_root() / "dagster.yaml", home / "dagster.yaml")
    with isolated_database(warehouse_url) as url, warehouse_in_force(url), Sandbox(
            seed=5, scale="small", sf_options={"rate_limit_per_minute": SF_RATE_LIMIT}) as sandbox, \
            environment_set({**sandbox.env(), **SYNC_FLAGS, "DAGSTER_HOME": str(home)}):
        yield sandbox


@pytest.mark.integration
@pytest.mark.reliability  # a whole `greenlight sync` (~1-2 min on this machine): too slow for `make test`
@pytest.mark.timeout(300)
def test_a_sync_with_servicefusion_down_says_which_steps_failed_and_what_to_do(sync_world: Sandbox) -> None:
    sync_world.state.faults.add({"server": "sf", "operation": "*", "kind": "reset", "rate": 1.0})
    result = CliRunner().invoke(main, ["sync"])
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("Error: ")][-1]
    # each failed asset is named, though the ingest steps hold several (decision 0021)
    assert "the sync failed in 4 step(s): sf/customers: CircuitOpenError: ServiceFusion circuit breaker open" in error
    assert "and 1 more" in error, error
    assert "check that it is up" in error and "details in the run log" not in error
