"""`greenlight dead-letters list|replay`: the writes that gave up, and sending them again.

A dead letter is a ledger entry that failed permanently or ran out of retries. Replaying it
puts the entry back to ``planned`` (`outbox.replay.replay_dead_letters`, shared with the
``replay_dead_letters`` job): the next sync sends it by the same path as any write, and -
because the entry keeps its error class - looks the record up on the target first, so a replay
can never create a second SF job. Nothing is sent by this command itself; it only needs the
warehouse. The job in the UI replays and sends in one run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from greenlight_dagster.cli.operator import echo_json, json_option, warehouse_engine
from greenlight_dagster.outbox.replay import ReplaySelectionError, replay_dead_letters
from greenlight_dagster.warehouse.ledger_store import DeadLetter, LedgerStore

NEXT_STEP = "the next sync sends it (after looking it up on the target): `greenlight sync` or the schedule"


def dead_letter_row(letter: DeadLetter) -> dict[str, Any]:
    """The fields an operator decides on, flat (for the table and for --json)."""
    entry = letter.entry
    return {"id": entry.id, "target": entry.target, "operation": entry.operation, "source_id": entry.source_id,
            "attempts": entry.attempts, "error_class": entry.error_class.value if entry.error_class else None,
            "reason": letter.reason, "dead_since": letter.created_at, "replayed_at": letter.replayed_at}


@click.group(name="dead-letters")
def dead_letters() -> None:
    """Inspect and replay writes that failed for good (ops.dead_letter)."""


@dead_letters.command(name="list")
@click.option("--include-replayed", is_flag=True, help="Also show dead letters already replayed.")
@json_option
def list_dead_letters(include_replayed: bool, as_json: bool) -> None:
    """Dead letters waiting for a person, oldest first; ID is what `replay` takes."""
    with warehouse_engine() as engine:
        rows = [dead_letter_row(letter) for letter in LedgerStore(engine).dead_letters(
            include_replayed=include_replayed)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no dead letters")
        return
    table = Table(title=f"{len(rows)} dead letter(s)")
    for column in ("id", "target", "operation", "source id", "attempts", "dead since", "reason"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row["id"]), row["target"], row["operation"], row["source_id"], str(row["attempts"]),
                      f"{row['dead_since']:%Y-%m-%d %H:%M}", row["reason"][:300])
    Console().print(table)
    click.echo("Fix the cause, then `greenlight dead-letters replay ID` (or `--all`).")


@dead_letters.command()
@click.argument("ledger_id", metavar="[ID]", type=int, required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter not yet replayed.")
def replay(ledger_id: int | None, replay_all: bool) -> None:
    """Send dead letter ID (or --all) again with the next sync; exit 1 if any could not be replayed.

    To send at once, launch the ``replay_dead_letters`` job in the UI (same selection, same path).
    """
    with warehouse_engine() as engine:
        try:
            outcome = replay_dead_letters(LedgerStore(engine), ledger_ids=[ledger_id] if ledger_id is not None else [],
                                          replay_all=replay_all, now=datetime.now(UTC))
        except ReplaySelectionError as exc:
            raise click.UsageError("give one dead letter ID or --all (not both).") from exc
    if outcome.replayed:
        click.echo(f"replayed {len(outcome.replayed)} of {len(outcome.requested)}: {NEXT_STEP}.")
    elif not outcome.requested:
        click.echo("no dead letters to replay.")
    if outcome.failures:
        raise click.ClickException("; ".join(outcome.failures) + ".")
