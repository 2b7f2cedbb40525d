"""`greenlight flags`: overrides in ops.flags win over the environment, and a typo changes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, text

from greenlight_dagster_tests.operator.conftest import Greenlight


def _stored(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {row.name: row.value for row in conn.execute(text("select name, value from ops.flags"))}


def _shown(greenlight: Greenlight) -> dict[str, dict[str, object]]:
    result = greenlight("flags", "show", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)}


def test_show_lists_every_flag_with_its_origin(greenlight: Greenlight, clean_ops: Engine,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENLIGHT_SAFE_MODE", "off")
    shown = _shown(greenlight)
    assert shown["dry_run"]["value"] is True and shown["dry_run"]["origin"] == "default"
    assert shown["safe_mode"]["value"] is False and shown["safe_mode"]["origin"] == "environment"
    table = greenlight("flags", "show")
    assert table.exit_code == 0 and "environment (GREENLIGHT_SAFE_MODE)" in table.output


def test_set_overrides_the_environment_from_the_next_run_on(greenlight: Greenlight, clean_ops: Engine,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENLIGHT_DRY_RUN", "true")
    result = greenlight("flags", "set", "dry-run", "false", "--by", "maria")
    assert result.exit_code == 0, result.output
    assert "dry_run = false from the next run on" in result.output and "set by maria" in result.output
    assert _stored(clean_ops) == {"dry_run": "false"}
    shown = _shown(greenlight)["dry_run"]
    assert shown["value"] is False and shown["origin"] == "ops.flags" and shown["updated_by"] == "maria"


def test_open_statuses_take_a_comma_list(greenlight: Greenlight, clean_ops: Engine) -> None:
    assert greenlight("flags", "set", "GREENLIGHT_PW_OPEN_STATUSES", "Open, Scheduled, In Progress").exit_code == 0
    assert _shown(greenlight)["pw_open_statuses"]["value"] == ["Open", "Scheduled", "In Progress"]


def test_an_open_list_without_the_statuses_the_push_writes_is_refused(greenlight: Greenlight,
                                                                     clean_ops: Engine) -> None:
    result = greenlight("flags", "set", "pw_open_statuses", "Open, Scheduled")
    assert result.exit_code == 1
    assert "missing: In Progress" in result.output and "must stay open" in result.output
    assert _stored(clean_ops) == {}


@pytest.mark.parametrize(("args", "message"), [
    (["dryrun", "false"], "unknown flag 'dryrun': choose one of dry_run,"),
    (["dry_run", "maybe"], "dry_run not changed: GREENLIGHT_DRY_RUN must be a boolean"),
    (["safe_mode_max_creates", "lots"], "must be a non-negative integer"),
    (["pw_open_statuses", " , "], "must list at least one status"),
    (["dry_run", " "], "use `greenlight flags unset dry_run`"),
])
def test_a_bad_name_or_value_is_one_sentence_and_changes_nothing(greenlight: Greenlight, clean_ops: Engine,
                                                                  args: list[str], message: str) -> None:
    result = greenlight("flags", "set", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _stored(clean_ops) == {}


def test_unset_falls_back_to_the_environment(greenlight: Greenlight, clean_ops: Engine,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENLIGHT_ENABLE_SERVICE_FUSION", "yes")
    assert greenlight("flags", "set", "enable_service_fusion", "no").exit_code == 0
    assert _shown(greenlight)["enable_service_fusion"]["value"] is False
    result = greenlight("flags", "unset", "enable_service_fusion")
    assert result.exit_code == 0
    assert "override removed; the next run uses true (environment" in result.output
    assert _stored(clean_ops) == {}
    again = greenlight("flags", "unset", "enable_service_fusion")
    assert again.exit_code == 0 and "no override was set" in again.output


def test_usage_errors_exit_2(greenlight: Greenlight, clean_ops: Engine) -> None:
    assert greenlight("flags", "set", "dry_run").exit_code == 2
    assert greenlight("flags", "frobnicate").exit_code == 2
    for args in (["flags", "--help"], ["flags", "show", "--help"], ["flags", "set", "--help"],
                 ["flags", "unset", "--help"]):
        assert greenlight(*args).exit_code == 0
