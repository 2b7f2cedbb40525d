"""What every benchmark needs: repeated timings, the peak memory of a process tree, and the results table.

Why sampling a child process for memory: the code under test shares its process with
whatever drives it (here: the sandbox servers holding the whole world in memory), so its own
footprint is only visible in a process of its own. ``ru_maxrss`` of RUSAGE_CHILDREN is the
maximum over *all* children ever waited for, so it cannot tell two measurements apart; psutil
sampling of the tree (the child and anything it spawns) can.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Spread:
    """A figure measured over repeated runs: the median is the figure, min and max show the spread."""

    median: float
    min: float
    max: float
    runs: tuple[float, ...]

    @classmethod
    def of(cls, runs: Sequence[float]) -> Spread:
        return cls(statistics.median(runs), min(runs), max(runs), tuple(runs))


@dataclass(frozen=True)
class ChildRun:
    """One measured child process: its wall time, the peak RSS of its tree, and what it printed."""

    seconds: float
    peak_rss_bytes: int
    stdout: str


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in (process, *process.children(recursive=True)):
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def run_child(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, interval: float = 0.02) -> ChildRun:
    """Run ``cmd`` to completion, sampling the summed RSS of its process tree every ``interval`` seconds.

    Raises `subprocess.CalledProcessError` (with stderr) when the child fails: a benchmark of
    a failed run is no figure at all.
    """
    began = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    watched = psutil.Process(proc.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(watched))
            except psutil.NoSuchProcess:
                return
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, list(cmd), stdout, stderr)
    return ChildRun(time.perf_counter() - began, peak, stdout)


@dataclass(frozen=True)
class Figure:
    """One row of a benchmark's results: what was measured, its value, and what it should be."""

    name: str
    value: str
    target: str
    ok: bool | None = None  # None: no target to meet, the figure is context

    def verdict(self) -> str:
        return "" if self.ok is None else ("ok" if self.ok else "MISSED")


def print_table(title: str, figures: Sequence[Figure]) -> None:
    """The figures as a fixed-width table on stdout."""
    rows = [("figure", "value", "target", ""), *((f.name, f.value, f.target, f.verdict()) for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(title)
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))


def write_results(name: str, figures: Sequence[Figure], details: Mapping[str, Any]) -> Path:
    """``benchmarks/results/{name}.json``: the table's figures plus the raw measurements behind them."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"benchmark": name, "figures": [asdict(f) for f in figures], "details": details}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
