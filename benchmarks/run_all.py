"""`make bench`: every benchmark in one go, one table, and benchmarks/RESULTS.md with the machine it ran on.

    .venv/bin/python benchmarks/run_all.py [--repeat 3] [--sync-scale medium] [--scale demo] [--data-scale large]
                                           [--only daily,peer,...]

Runs, in this order: the daily sync at production latency (headline; the push steps' efficiency
is read from the same runs), ingestion (`ingest`, called, not copied), history cost, the push of
1,000 new SF jobs (`push.run_scenario`), the dlt peer, start-up, the same sync and backfill launched
from the UI and from the command line (`ui_sync`), and the sandbox.
Prints one table - figure | value | target | verdict, ratios in the values of
comparisons - and writes the same table to ``benchmarks/RESULTS.md`` with CPU count, RAM, date,
git commit and the load average around each benchmark: these machines are shared, so a figure
is only readable next to how busy the machine was while it was taken.

A benchmark that fails does not stop the others: its row says ERROR with the reason, and the
exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import (
    daily_sync,
    ingest,
    peer,
    push,
    sandbox,
    startup,
    ui_sync,
    warehouse,
)
from benchmarks.common import MIB, RESULTS_DIR, Figure, write_results
from greenlight_dagster.sandbox.generator import SCALES

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = ("daily", "ingest", "history", "push", "peer", "startup", "ui", "sandbox")


@dataclass
class Section:
    """One benchmark's rows, with the load average and time it ran under."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    error: str = ""


def run_section(name: str, fn: Callable[[], list[Figure]]) -> Section:
    """Run one benchmark; a failure becomes an ERROR row instead of ending `make bench`."""
    section = Section(name, load_before=os.getloadavg()[0])
    began = time.monotonic()
    try:
        section.figures = fn()
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        section.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
    section.seconds = time.monotonic() - began
    section.load_after = os.getloadavg()[0]
    return section


def daily_and_push(scale: str, repeat: int) -> tuple[list[Figure], list[Figure]]:
    """The headline and push efficiency from the same timed days."""
    result = daily_sync.run(scale=scale, repeat=repeat)
    daily = daily_sync.figures(result)
    write_results("daily_sync", daily, daily_sync.details(result))
    pushed = push.figures(result)
    write_results("push_daily", pushed, {"days": len(result.days)})
    return daily, pushed


def run_ingest(scale: str, repeat: int) -> list[Figure]:
    """`ingest` as its own command line runs it; its figures read back from its results file."""
    if ingest.main(["--scale", scale, "--repeat", str(repeat)]) != 0:
        raise RuntimeError("ingest failed")
    data = json.loads((RESULTS_DIR / "ingest.json").read_text())
    return [Figure(**figure) for figure in data["figures"]]


def run_history(scale: str, repeat: int) -> list[Figure]:
    return warehouse.figures(warehouse.run(scale=scale, repeat=repeat))


def run_peer(scale: str, repeat: int, large_scale: str) -> list[Figure]:
    """The peer at the incremental run's scale (``repeat`` times), then once at the initial load's scale."""
    runs = {scale: peer.run(scale=scale, repeat=repeat), large_scale: peer.run(scale=large_scale, repeat=1)}
    figures = [figure for at, results in runs.items() for figure in peer.figures(results, at)]
    write_results("peer", figures, {at: [asdict(r) for r in results] for at, results in runs.items()})
    return figures


def run_push() -> list[Figure]:
    """The issue's push figure: 1,000 new SF jobs at a scaled-up rate limit (its own world)."""
    result = push.run_scenario()
    figures = push.scenario_figures(result)
    write_results("push", figures, push.scenario_details(result))
    return figures


def run_startup(repeat: int) -> list[Figure]:
    figures, _raw = startup.run(repeat=max(repeat, 3), warm_repeat=2)
    return figures


def run_ui(scale: str, repeat: int) -> list[Figure]:
    """UI-launched sync and backfill against the same from the command line (`greenlight dev` serving both)."""
    pairs = ui_sync.run(scale=scale, repeat=repeat)
    figures = ui_sync.figures(pairs)
    write_results("ui_sync", figures, {"scale": scale, "pairs": [asdict(p) for p in pairs]})
    return figures


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    # the benchmarks' own outputs are not a change to the code that was measured
    dirty = " (working tree has uncommitted changes)" if git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results", ":!benchmarks/RESULTS.md",
    ) else ""
    return f"{git('rev-parse', '--short', 'HEAD')} {git('log', '-1', '--format=%s')[:80]}{dirty}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(sections: list[Section]) -> str:
    """One Markdown table: a heading row per benchmark (time taken, load average), then its figures."""
    lines = ["| figure | value | target | verdict |", "|---|---|---|---|"]
    for s in sections:
        lines.append(f"| **{s.name}** ({s.seconds / 60:.1f} min, load {s.load_before:.1f} -> {s.load_after:.1f}) "
                     f"| | | |")
        if s.error:
            lines.append(f"| {_cell(s.name)} did not finish | {_cell(s.error)} | | ERROR |")
        for f in s.figures:
            lines.append(f"| {_cell(f.name.strip())} | {_cell(f.value)} | {_cell(f.target)} | {f.verdict()} |")
    return "\n".join(lines)


def machine() -> str:
    memory = psutil.virtual_memory().total / MIB / 1024
    return (f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), {memory:.1f} GiB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def write_markdown(table: str, *, started: datetime, minutes: float, load: tuple[float, float, float],
                   commit_at_start: str, args: argparse.Namespace) -> None:
    """RESULTS.md: the table with what it was measured on (the code is the working tree: commits may land meanwhile)."""
    missed = table.count("| MISSED |")
    at_end = git_commit()
    commit = at_end if at_end == commit_at_start else (
        f"{commit_at_start} at the start; {at_end} at the end (other commits landed during the run: "
        "later benchmarks ran newer code)")
    RESULTS_MD.write_text(
        "# Benchmark results\n\n"
        "Written by `make bench` (`benchmarks/run_all.py`); raw measurements in `benchmarks/results/*.json`.\n\n"
        f"- date: {started:%Y-%m-%d %H:%M} UTC, {minutes:.0f} minutes in all\n"
        f"- machine: {machine()}\n"
        f"- git commit: {commit}\n"
        f"- load average (1/5/15 min) at the start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} - the machine is "
        "shared with other test runs; per-benchmark load is in each heading row\n"
        f"- settings: daily sync and peer at {args.sync_scale} (peer once more at {args.data_scale}), ingestion and "
        f"history at {args.data_scale}, UI and sandbox at {args.scale}; repeats {args.repeat}; "
        "values are median (min-max, n)\n"
        f"- targets missed: {missed}\n\n"
        f"{table}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sync-scale", choices=tuple(SCALES), default="medium",
                        help="world of the daily sync and the peer's incremental run (issue 19 sizes both at medium)")
    parser.add_argument("--scale", choices=("small", "demo"), default="demo",
                        help="world of the UI and sandbox benchmarks")
    parser.add_argument("--data-scale", choices=tuple(SCALES), default="large",
                        help="world of the ingestion and history benchmarks and of the peer's initial load, "
                             "run once (the issues size them at large)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of every timed measurement")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma list of {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    started, load, began, commit_at_start = datetime.now(UTC), os.getloadavg(), time.monotonic(), git_commit()

    sections: list[Section] = []
    if "daily" in chosen:
        pushed: list[Figure] = []

        def daily() -> list[Figure]:
            figures, push = daily_and_push(args.sync_scale, args.repeat)
            pushed.extend(push)
            return figures

        sections.append(run_section("Daily sync at production latency (headline)", daily))
        sections.append(Section("Push efficiency (same timed runs)", pushed, 0.0, sections[-1].load_before,
                                sections[-1].load_after))
    runners: dict[str, tuple[str, Callable[[], list[Figure]]]] = {
        "ingest": ("Ingestion", lambda: run_ingest(args.data_scale, args.repeat)),
        "history": ("History cost", lambda: run_history(args.data_scale, args.repeat)),
        "push": ("Push: 1,000 new ServiceFusion jobs", run_push),
        "peer": ("Peer: ours vs dlt, same data and server",
                 lambda: run_peer(args.sync_scale, args.repeat, args.data_scale)),
        "startup": ("Start-up", lambda: run_startup(args.repeat)),
        "ui": ("UI vs command line, same work", lambda: run_ui(args.scale, args.repeat)),
        "sandbox": ("Sandbox throughput", lambda: sandbox.measure(args.scale)),
    }
    for name in BENCHMARKS[1:]:
        if name in chosen:
            sections.append(run_section(*runners[name]))

    table = render(sections)
    print(table)
    write_markdown(table, started=started, minutes=(time.monotonic() - began) / 60, load=load,
                   commit_at_start=commit_at_start, args=args)
    print(f"\nwritten to {RESULTS_MD}")
    return 1 if any(s.error for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
