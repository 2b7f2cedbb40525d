"""Harmful run config is refused before anything is read or sent, with a message naming the field and its bound."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pydantic
import pytest

from greenlight_dagster.defs.push.assets import PushConfig
from greenlight_dagster.defs.push.replay import SendReplayedConfig
from greenlight_dagster.defs.servicefusion.resources import ServiceFusionResource
from greenlight_dagster_tests.ingestion.fixtures_sandbox import (  # noqa: F401 - fixtures are used by name
    ASSETS,
    RESOURCES,
    Ingest,
    ingest_fixture,
    op_name,
)

pytestmark = pytest.mark.integration

SF_TECHS = ("sf", "techs")


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every message of the failed steps' error chains, joined."""
    texts = []
    for event in result.all_events:
        error = event.step_failure_data.error if event.is_step_failure and event.step_failure_data else None
        while error is not None:
            texts.append(error.message)
            error = error.cause
    return "\n".join(texts)


@pytest.mark.parametrize(("field", "value", "bound"), [
    ("overlap_minutes", -60, "greater than or equal to 0"),
    ("overlap_minutes", 10 ** 9, "less than or equal to 1440"),
    ("batch_size", 0, "greater than or equal to 1"),
])
def test_harmful_ingest_config_fails_the_step_before_any_read(ingest: Ingest, field: str, value: Any,
                                                              bound: str) -> None:
    result = dg.materialize(ASSETS, selection=[dg.AssetKey(list(SF_TECHS))], resources=RESOURCES,
                            instance=ingest.instance, raise_on_error=False,
                            run_config={"ops": {op_name(*SF_TECHS): {"config": {field: value}}}})
    assert not result.success
    message = _failure_text(result)
    assert field in message and bound in message
    assert ingest.requests("sf") == [] and ingest.rows(*SF_TECHS) == []


@pytest.mark.parametrize("config", [PushConfig, SendReplayedConfig])
def test_a_negative_orphan_grace_is_refused(config: type[dg.Config]) -> None:
    """A negative grace would settle the `sending` entries of live runs by lookup while they send."""
    with pytest.raises(pydantic.ValidationError, match="orphan_grace_minutes"):
        config(orphan_grace_minutes=-1)
    assert config(orphan_grace_minutes=0).orphan_grace_minutes == 0  # tests and replays settle at once


@pytest.mark.parametrize(("field", "value"), [("per_page", 0), ("per_page", 51), ("max_attempts", 0),
                                              ("timeout_seconds", 0), ("backoff_base_seconds", -1),
                                              ("rate_limit_per_minute", 0), ("breaker_failure_threshold", 0)])
def test_harmful_servicefusion_settings_are_refused(field: str, value: Any) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        ServiceFusionResource(base_url="http://127.0.0.1:9/v1", token_url="http://127.0.0.1:9/oauth/access_token",
                              client_id="id", client_secret="secret", **{field: value})
