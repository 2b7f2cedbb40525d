"""Push flags from the environment (docs/operations.md §1)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenlight_dagster.core.flags import ENV_VARS, SyncFlags
from greenlight_dagster.core.statuses import DEFAULT_OPEN_STATUSES


def test_defaults_are_safe() -> None:
    flags = SyncFlags.from_env({})
    assert flags == SyncFlags()
    assert flags.dry_run and not flags.enable_service_fusion and flags.safe_mode and flags.pw_verify_strict
    assert flags.pw_open_statuses == DEFAULT_OPEN_STATUSES
    assert not flags.may_send("sf") and not flags.may_send("pw")


def test_from_env_parses_every_variable() -> None:
    flags = SyncFlags.from_env({
        "GREENLIGHT_DRY_RUN": "false", "GREENLIGHT_ENABLE_SERVICE_FUSION": "YES", "GREENLIGHT_SAFE_MODE": "0",
        "GREENLIGHT_SAFE_MODE_MAX_CREATES": " 7 ", "GREENLIGHT_PW_VERIFY_STRICT": "off",
        "GREENLIGHT_PW_OPEN_STATUSES": " Open, WO Received ,,open , Scheduled, in progress",
        "UNRELATED": "x",
    })
    assert flags.as_dict() == {
        "dry_run": False, "enable_service_fusion": True, "safe_mode": False, "safe_mode_max_creates": 7,
        "pw_verify_strict": False, "pw_open_statuses": ["Open", "WO Received", "Scheduled", "in progress"],
    }
    json.dumps(flags.as_dict())


def test_blank_values_keep_defaults() -> None:
    assert SyncFlags.from_env({"GREENLIGHT_DRY_RUN": "  ", "GREENLIGHT_PW_OPEN_STATUSES": ""}) == SyncFlags()


@pytest.mark.parametrize(
    ("var", "value"),
    [("GREENLIGHT_DRY_RUN", "maybe"), ("GREENLIGHT_ENABLE_SERVICE_FUSION", "2"), ("GREENLIGHT_SAFE_MODE", "enabled"),
     ("GREENLIGHT_PW_VERIFY_STRICT", "tru"), ("GREENLIGHT_SAFE_MODE_MAX_CREATES", "-1"),
     ("GREENLIGHT_SAFE_MODE_MAX_CREATES", "ten"), ("GREENLIGHT_PW_OPEN_STATUSES", " , ,")],
)
def test_invalid_values_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(ValueError, match=var):
        SyncFlags.from_env({var: value})


def test_may_send() -> None:
    assert SyncFlags(dry_run=False, enable_service_fusion=True).may_send("sf")
    assert not SyncFlags(dry_run=False, enable_service_fusion=False).may_send("sf")
    assert SyncFlags(dry_run=False, enable_service_fusion=False).may_send("pw")
    assert not SyncFlags(dry_run=True, enable_service_fusion=True).may_send("sf")


def test_direct_construction_is_validated() -> None:
    with pytest.raises(TypeError):
        SyncFlags(dry_run="false")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SyncFlags(safe_mode_max_creates=-1)
    with pytest.raises(ValueError):
        SyncFlags(pw_open_statuses=())
    assert SyncFlags(pw_open_statuses=("Open", "OPEN", "Scheduled", "In Progress")).pw_open_statuses == (
        "Open", "Scheduled", "In Progress")


def test_the_open_list_keeps_what_the_push_writes_open() -> None:
    """The push writes "In Progress" and "Scheduled" to PW: an open list without them would hold our own writes back."""
    with pytest.raises(ValueError, match=r"missing: In Progress\)"):
        SyncFlags.from_env({"GREENLIGHT_PW_OPEN_STATUSES": "Open, Scheduled"})
    assert "in progress" in SyncFlags().pw_open_statuses


def test_every_field_has_a_variable() -> None:
    assert set(ENV_VARS) == set(SyncFlags().as_dict())


@given(st.sampled_from(["true", "TRUE", " yes", "1", "on ", "Y"]), st.sampled_from(["false", "No", "0", "OFF", "n"]))
def test_boolean_spellings(yes: str, no: str) -> None:
    assert SyncFlags.from_env({"GREENLIGHT_DRY_RUN": yes}).dry_run is True
    assert SyncFlags.from_env({"GREENLIGHT_DRY_RUN": no}).dry_run is False
