"""`greenlight preview`: the next push record by record, computed like push_plan, recording nothing."""

from __future__ import annotations

import json

from sqlalchemy import Engine, text

from greenlight_dagster.warehouse.candidates import CANDIDATES_SCHEMA
from greenlight_dagster_tests.operator.conftest import Greenlight


def _ledger_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("select count(*) from ops.sync_ledger")).scalar_one())


def test_preview_lists_writes_and_held_back_items_without_recording(greenlight: Greenlight,
                                                                   marts_engine: Engine) -> None:
    result = greenlight("preview", "--offline", "--json")
    assert result.exit_code == 0, result.output
    preview = json.loads(result.output)
    rows = preview["rows"]
    held = {row["source_id"]: row["detail"] for row in rows if row["action"] == "hold"}
    # the scenario's unit-routing violations are held back with the rule as the reason
    assert held["9001"].startswith("unit_routing") and held["9006"].startswith("unit_routing")
    assert held["9004"].startswith("status_not_open")
    assert all(row["will_send"] is False for row in rows)  # dry run is on by default
    assert preview["flags"]["dry_run"] is True
    assert _ledger_rows(marts_engine) == 0


def test_preview_with_hypothetical_flags_and_filters(greenlight: Greenlight, marts_engine: Engine) -> None:
    base = json.loads(greenlight("preview", "--offline", "--json").output)
    writes = [row for row in base["rows"] if row["action"] == "write"]
    assert writes, "the scenario plans at least one write"
    live = json.loads(greenlight("preview", "--offline", "--json", "--action", "write",
                                 "--flag", "dry_run=false", "--flag", "enable-service-fusion=true").output)
    assert {row["action"] for row in live["rows"]} == {"write"}
    assert all(row["will_send"] for row in live["rows"] if row["operation"] != "attention")
    only_pw = json.loads(greenlight("preview", "--offline", "--json", "--target", "pw").output)
    assert {row["target"] for row in only_pw["rows"]} <= {"pw"}

    table = greenlight("preview", "--offline", "--limit", "1")
    assert table.exit_code == 0
    assert "the next run sends nothing (it only plans)" in table.output and "--limit 0 for all" in table.output


def test_preview_refuses_bad_flags_and_explains_a_missing_plan(greenlight: Greenlight, clean_ops: Engine) -> None:
    bad = greenlight("preview", "--offline", "--flag", "dry_run")
    assert bad.exit_code == 1 and "is not NAME=VALUE" in bad.output
    typo = greenlight("preview", "--offline", "--flag", "dry_run=perhaps")
    assert typo.exit_code == 1 and "GREENLIGHT_DRY_RUN must be a boolean" in typo.output
    with clean_ops.begin() as conn:  # as before the first sync (other tests may have built the models)
        conn.execute(text(f"drop schema if exists {CANDIDATES_SCHEMA} cascade"))
    empty = greenlight("preview", "--offline")
    assert empty.exit_code == 1 and "run `greenlight sync` once" in empty.output
