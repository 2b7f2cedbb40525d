"""The same work launched from the UI and from the command line, side by side (issue 20).

    .venv/bin/python benchmarks/ui_sync.py [--scale small|demo] [--repeat 3]

`greenlight dev` (what `make dev` runs) on a free 127.0.0.1 port with a data dir of its own
serves the sandbox, the UI and the daemon. A first ``greenlight sync`` (untimed) loads the world
into the warehouse. Then, ``--repeat`` times, alternating which goes first:

* **sync**: today's partition of the ``sync`` job launched through the webserver's GraphQL API,
  as the Launchpad launches it, timed from the launch request until the run has ended (queueing,
  the run worker's start and its steps: what an operator waits for), against ``greenlight sync``
  in a second terminal, timed as a whole process (interpreter, definitions, run);
* **backfill**: one past day of the ``backfill`` job (a partition-range run, as the backfill
  dialog's single-run ranges launch it) against ``greenlight backfill --from D --to D``.

Both sides do the same incremental work against the same sandbox (the commands use the one
`greenlight dev` serves) and warehouse; dry run is on (the default), so nothing is sent and a
repeat's work does not depend on the previous one's. Target: UI <= 1.2x the CLI.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Figure, Spread, print_table, write_results
from benchmarks.daily_sync import traversable_tempdir
from greenlight_dagster.cli.backfill import RANGE_END_TAG, RANGE_START_TAG
from greenlight_dagster.lib.ingest import latest_partition_key
from greenlight_dagster_tests.ui.dagster_ui import DagsterUi, greenlight_command, greenlight_dev

RATIO_TARGET = 1.2
RUN_TIMEOUT = 1800


@dataclass
class Pair:
    """One repeat of one kind of work: UI and CLI wall seconds."""

    work: str
    ui_seconds: float
    cli_seconds: float
    ui_run_id: str


def _cli(data_dir: Path, *args: str) -> float:
    began = time.monotonic()
    result = greenlight_command(data_dir, *args, timeout=RUN_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"greenlight {' '.join(args)} failed: {result.stderr[-2000:]}")
    return time.monotonic() - began


def _ui(ui: DagsterUi, job: str, tags: dict[str, str]) -> tuple[float, str]:
    outcome = ui.run_job(job, timeout=RUN_TIMEOUT, tags=tags)
    if outcome.status != "SUCCESS":
        raise RuntimeError(f"the UI's {job} run {outcome.run_id} ended {outcome.status}")
    return outcome.seconds, outcome.run_id


def measure(ui: DagsterUi, data_dir: Path, repeat: int) -> list[Pair]:
    today = latest_partition_key()
    day = (date.fromisoformat(today) - timedelta(days=2)).isoformat()
    work = {
        "sync": (("sync", {"dagster/partition": today}), ("sync",)),
        "backfill": (("backfill", {RANGE_START_TAG: day, RANGE_END_TAG: day}),
                     ("backfill", "--from", day, "--to", day)),
    }
    pairs = []
    for n in range(repeat):
        for name, ((job, tags), cli_args) in work.items():
            if n % 2 == 0:
                ui_seconds, run_id = _ui(ui, job, tags)
                cli_seconds = _cli(data_dir, *cli_args)
            else:
                cli_seconds = _cli(data_dir, *cli_args)
                ui_seconds, run_id = _ui(ui, job, tags)
            print(f"{name} #{n + 1}: UI {ui_seconds:.1f} s, CLI {cli_seconds:.1f} s", flush=True)
            pairs.append(Pair(name, ui_seconds, cli_seconds, run_id))
    return pairs


def run(scale: str = "small", repeat: int = 3) -> list[Pair]:
    root = traversable_tempdir("glui-")
    try:
        data_dir = root / "data"
        with greenlight_dev(data_dir, root / "dev.log", scale=scale) as ui:
            _cli(data_dir, "sync")  # the first load of the world: not what is compared
            return measure(ui, data_dir, repeat)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def figures(pairs: list[Pair]) -> list[Figure]:
    table = []
    for work in dict.fromkeys(p.work for p in pairs):
        ui = Spread.of([p.ui_seconds for p in pairs if p.work == work])
        cli = Spread.of([p.cli_seconds for p in pairs if p.work == work])
        ratio = ui.median / cli.median
        table.append(Figure(f"{work} launched from the UI (GraphQL) vs `greenlight {work}` (n={len(ui.runs)})",
                            f"UI {ui.median:.1f} s ({ui.min:.1f}-{ui.max:.1f}), CLI {cli.median:.1f} s "
                            f"({cli.min:.1f}-{cli.max:.1f}): {ratio:.2f}x", f"<= {RATIO_TARGET}x",
                            ratio <= RATIO_TARGET))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("small", "demo"), default="small")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    pairs = run(args.scale, args.repeat)
    table = figures(pairs)
    print_table(f"UI vs CLI, {args.scale} world", table)
    write_results("ui_sync", table, {"scale": args.scale, "pairs": [asdict(p) for p in pairs]})
    return 0 if all(f.ok for f in table) else 1


if __name__ == "__main__":
    sys.exit(main())
