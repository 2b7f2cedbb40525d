"""`greenlight dead-letters`: list what gave up, replay it back into the ledger, exit 1 on what cannot be."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from greenlight_dagster.core.ledger import LedgerState
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster_tests.operator.conftest import Greenlight, dead_letter


def test_list_shows_each_dead_letter_with_its_reason(greenlight: Greenlight, clean_ops: Engine) -> None:
    store = LedgerStore(clean_ops)
    first = dead_letter(store, 9000, "422: street_1 is required")
    dead_letter(store, 9001, "422: customer_name is unknown")
    result = greenlight("dead-letters", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert (rows[0]["id"], rows[0]["source_id"], rows[0]["reason"]) == (first, "9000", "422: street_1 is required")
    assert {r["operation"] for r in rows} == {"create_job"} and len(rows) == 2
    table = greenlight("dead-letters", "list")
    assert "2 dead letter(s)" in table.output and "street_1 is required" in table.output


def test_replay_one_puts_it_back_to_planned_for_the_next_sync(greenlight: Greenlight, clean_ops: Engine) -> None:
    store = LedgerStore(clean_ops)
    ledger_id = dead_letter(store, 9000, "422: street_1 is required")
    other = dead_letter(store, 9001, "422: customer_name is unknown")
    result = greenlight("dead-letters", "replay", str(ledger_id))
    assert result.exit_code == 0, result.output
    assert "replayed 1 of 1" in result.output
    assert store.get(ledger_id).state is LedgerState.PLANNED
    assert [letter.entry.id for letter in store.dead_letters()] == [other]


def test_replay_all_and_then_nothing_left(greenlight: Greenlight, clean_ops: Engine) -> None:
    store = LedgerStore(clean_ops)
    ids = [dead_letter(store, wo_id, "422: bad") for wo_id in (9000, 9001, 9002)]
    result = greenlight("dead-letters", "replay", "--all")
    assert result.exit_code == 0 and "replayed 3 of 3" in result.output
    assert {store.get(i).state for i in ids} == {LedgerState.PLANNED}
    again = greenlight("dead-letters", "replay", "--all")
    assert again.exit_code == 0 and "no dead letters to replay" in again.output
    assert greenlight("dead-letters", "list").output.strip() == "no dead letters"


def test_replaying_what_is_not_a_dead_letter_fails_with_a_reason(greenlight: Greenlight, clean_ops: Engine) -> None:
    store = LedgerStore(clean_ops)
    ledger_id = dead_letter(store, 9000, "422: bad")
    assert greenlight("dead-letters", "replay", str(ledger_id)).exit_code == 0
    twice = greenlight("dead-letters", "replay", str(ledger_id))
    assert twice.exit_code == 1 and f"{ledger_id} is planned, not a dead letter" in twice.output
    missing = greenlight("dead-letters", "replay", "424242")
    assert missing.exit_code == 1 and "424242 is not a ledger entry" in missing.output


def test_replay_needs_exactly_one_of_id_or_all(greenlight: Greenlight, clean_ops: Engine) -> None:
    assert greenlight("dead-letters", "replay").exit_code == 2
    assert greenlight("dead-letters", "replay", "1", "--all").exit_code == 2
    assert greenlight("dead-letters", "replay", "one").exit_code == 2
