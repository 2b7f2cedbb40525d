"""Start-up: time to load the Definitions, and from `greenlight dev` (what `make dev` runs) to a served UI.

    .venv/bin/python benchmarks/startup.py [--repeat 5]

* **Definitions**: ``import greenlight_dagster.definitions`` in a fresh interpreter, timed
  inside it (the import alone) and from outside (interpreter start included: what every run
  worker, code server and CLI call pays). Repeated; the first run may pay cold disk caches.
* **UI**: ``greenlight dev`` on a free 127.0.0.1 port with ``GREENLIGHT_DATA_DIR`` in a
  world-traversable temp dir (the embedded server runs as an unprivileged user under root),
  polled until ``/server_info`` answers. The first start in an empty data dir is *cold*
  (initdb, migrations, a generated sandbox world); the next starts in the same dir are *warm*.
  Every start is stopped the way Ctrl-C stops it (SIGINT to its process group) and waited for.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import requests

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import MIB, Figure, Spread, print_table, run_child, write_results
from benchmarks.daily_sync import traversable_tempdir

UI_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 90  # what the project's own dev test allows for Ctrl-C
_IMPORT_PROBE = ("import json, time; began = time.perf_counter(); import greenlight_dagster.definitions; "
                 "print(json.dumps({'import_seconds': time.perf_counter() - began}))")
#: Variables that would point a child at another warehouse or instance than its own data dir.
_FOREIGN = ("GREENLIGHT_WAREHOUSE_URL", "GREENLIGHT_DAGSTER_STORAGE_URL", "DAGSTER_HOME")


def clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in _FOREIGN}, **extra}


def definitions_load(repeat: int) -> tuple[Spread, Spread, Spread]:
    """(import seconds, whole-process seconds, peak RSS MiB) of loading the Definitions in a fresh interpreter."""
    imports, wall, rss = [], [], []
    for _ in range(repeat):
        child = run_child([sys.executable, "-c", _IMPORT_PROBE], env=clean_env())
        imports.append(json.loads(child.stdout.strip().splitlines()[-1])["import_seconds"])
        wall.append(child.seconds)
        rss.append(child.peak_rss_bytes / MIB)
    return Spread.of(imports), Spread.of(wall), Spread.of(rss)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class UiStart:
    """One `greenlight dev`: seconds to ``/server_info``, seconds from Ctrl-C to exit, and whether it exited alone."""

    ready_seconds: float
    stop_seconds: float
    clean_stop: bool


def time_to_ui(data_dir: Path) -> UiStart:
    """Start ``greenlight dev``, time it to ``/server_info``, then stop it as Ctrl-C does and time that too."""
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "greenlight_dagster.cli", "dev", "--port", str(port)],
                            env=clean_env(GREENLIGHT_DATA_DIR=str(data_dir)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    ready: float | None = None
    try:
        while proc.poll() is None and time.perf_counter() - began < UI_TIMEOUT_SECONDS:
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                    ready = time.perf_counter() - began
                    break
            except requests.RequestException:
                pass
            time.sleep(0.25)
    finally:
        stopping = time.perf_counter()
        clean = stop_everything(proc, data_dir)
        stop_seconds = time.perf_counter() - stopping
    if ready is None:
        raise RuntimeError(f"greenlight dev did not serve /server_info within {UI_TIMEOUT_SECONDS} s "
                           f"(exit code {proc.poll()})")
    return UiStart(ready, stop_seconds, clean)


def stop_everything(proc: subprocess.Popen[bytes], data_dir: Path) -> bool:
    """Ctrl-C to its group and wait; whatever outlives that is killed by pid. True if nothing had to be killed.

    `greenlight dev` runs `dagster dev` in a session of its own, so killing our child's group
    alone would orphan the webserver, daemon and code servers if the child itself had to be
    killed; they are collected first (all descendants) and reaped by pid, and an embedded
    PostgreSQL left running on the data dir is stopped.
    """
    from greenlight_dagster.warehouse.embedded import EmbeddedWarehouse

    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    clean = True
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            clean = False
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _gone, alive = psutil.wait_procs(descendants, timeout=10)
    for leftover in alive:
        clean = False
        with contextlib.suppress(psutil.NoSuchProcess):
            leftover.kill()
    psutil.wait_procs(alive, timeout=10)
    if EmbeddedWarehouse(data_dir).stop():
        clean = False
    return clean


def ui_start(warm_repeat: int) -> tuple[UiStart, list[UiStart]]:
    """(the cold start, the warm starts) in one temporary data dir, removed afterwards."""
    root = traversable_tempdir("glbs-")
    try:
        cold = time_to_ui(root / "d")
        return cold, [time_to_ui(root / "d") for _ in range(warm_repeat)]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(repeat: int = 5, warm_repeat: int = 2) -> tuple[list[Figure], dict[str, object]]:
    imports, wall, rss = definitions_load(repeat)
    cold, warm_starts = ui_start(warm_repeat)
    warm = Spread.of([w.ready_seconds for w in warm_starts])
    stops = Spread.of([u.stop_seconds for u in (cold, *warm_starts)])
    clean = sum(u.clean_stop for u in (cold, *warm_starts))
    table = [
        Figure(f"Definitions load: import in a fresh interpreter (n={repeat})",
               f"{imports.median:.1f} s ({imports.min:.1f}-{imports.max:.1f})", "-"),
        Figure("  same, whole process (interpreter start included)",
               f"{wall.median:.1f} s ({wall.min:.1f}-{wall.max:.1f}); {rss.median:.0f} MiB", "-"),
        Figure("greenlight dev -> /server_info, cold (empty data dir: initdb, world generation)",
               f"{cold.ready_seconds:.0f} s", "-"),
        Figure(f"greenlight dev -> /server_info, warm (n={warm_repeat})",
               f"{warm.median:.0f} s ({warm.min:.0f}-{warm.max:.0f})", "-"),
        Figure(f"  Ctrl-C -> everything stopped (n={len(stops.runs)})",
               f"{stops.median:.0f} s ({stops.min:.0f}-{stops.max:.0f}); "
               f"{clean}/{len(stops.runs)} exited by themselves",
               f"all within {STOP_TIMEOUT_SECONDS} s", clean == len(stops.runs)),
    ]
    return table, {"import_seconds": imports.runs, "process_seconds": wall.runs, "rss_mib": rss.runs,
                   "ui_cold": asdict(cold), "ui_warm": [asdict(w) for w in warm_starts]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Definitions loads")
    parser.add_argument("--warm-repeat", type=int, default=2, help="warm UI starts after the cold one")
    args = parser.parse_args(argv)
    table, raw = run(args.repeat, args.warm_repeat)
    print_table(f"Start-up (load {os.getloadavg()[0]:.1f})", table)
    print(f"written to {write_results('startup', table, raw)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
