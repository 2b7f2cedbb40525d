"""How many list pages per second the sandbox serves, faults off: it must never be a benchmark's bottleneck.

Target (sandbox issue): at least 200 list pages/s on this 2-core machine, PW pages of 100 work
orders and SF pages of 50 jobs. The client side is kept minimal so the figure is the server's:
the sandbox runs in its own process (`greenlight sandbox serve`, as users run it; in one process
client and server would share the GIL), the PW request is one pre-built SOAP envelope POSTed over
a keep-alive session (built once by `pw_wire`), the SF request a plain GET with a bearer token. Two
client threads, like a sync running PW and SF reads side by side.

PW is measured twice, because its server caches (each query's matching ids, each record's XML):
first every page read once in order, as a full ingest reads them (cold: each record is rendered
on its way out), then the first 30 pages over and over (cached), as the issue's figure. Next to
each rate stands the server process's CPU time per page, which a busy machine inflates far
less than the rate: pages/s is client + server + everyone else on two cores.

    .venv/bin/python benchmarks/sandbox.py [--scale demo] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

import psutil
import requests

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Figure, print_table, write_results
from greenlight_dagster.clients import pw_wire
from greenlight_dagster.sandbox.generator import SCALES

TARGET_PAGES_PER_SECOND = 200
HOT_PAGES = 30  # the cached phase cycles through the first 30 pages (all of the demo world)
_PAGE_MARK = 987_654_321  # stands for the page number in the pre-built PW envelope


Info = dict[str, str]
Fetch = Callable[[requests.Session, int], int]


@dataclass(frozen=True)
class Rate:
    """One phase: pages served, per second, and the server process's CPU milliseconds per page."""

    pages: int
    pages_per_second: float
    cpu_ms_per_page: float


def pw_page_request(info: Info) -> tuple[Fetch, int]:
    """POST one ``getWorkOrders`` page (the sandbox's page size, 100 records), returning the response
    size; and the page count (the legacy service has no total: the first empty page, found by bisection)."""
    auth = (info["pw_username"], info["pw_password"])
    address = info["pw_wsdl_url"].split("?", 1)[0]
    template = pw_wire.request("getWorkOrders", {"criteria": {"pageNumber": _PAGE_MARK}})

    def post(session: requests.Session, page: int) -> requests.Response:
        body = template.replace(f">{_PAGE_MARK}<".encode(), f">{page}<".encode())
        response = session.post(address, data=body, auth=auth, headers={"Content-Type": "text/xml; charset=utf-8"},
                                timeout=120)
        response.raise_for_status()
        return response

    def fetch(session: requests.Session, page: int) -> int:
        return len(post(session, page).content)

    def empty(session: requests.Session, page: int) -> bool:
        return b"<item " not in post(session, page).content

    with requests.Session() as session:
        high = 1
        while not empty(session, high):
            high *= 2
        low = high // 2  # the last page known to hold records (0: none)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if empty(session, middle) else (middle, high)
    return fetch, low


def sf_page_request(info: Info) -> Fetch:
    """GET one ``/jobs`` page of 50, sorted (an unsorted /jobs hangs by design)."""
    token = requests.post(info["sf_token_url"], json={"grant_type": "client_credentials",
                                                      "client_id": info["sf_client_id"],
                                                      "client_secret": info["sf_client_secret"]},
                          timeout=30).json()["access_token"]

    def fetch(session: requests.Session, page: int) -> int:
        params: dict[str, str | int] = {"sort": "id", "per-page": 50, "page": page}
        response = session.get(f"{info['sf_base_url']}/jobs", params=params,
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
        response.raise_for_status()
        return len(response.content)

    return fetch


def pages_per_second(fetch: Fetch, pages: Iterator[int], seconds: float, threads: int, server: psutil.Process
                     ) -> Rate:
    """``threads`` clients taking page numbers from ``pages`` (shared: each number is fetched once)
    until it runs out or ``seconds`` pass."""
    counts = [0] * threads
    deadline = time.monotonic() + seconds

    def worker(slot: int) -> None:
        with requests.Session() as session:
            for page in pages:  # an itertools/range iterator: next() is atomic under the GIL
                fetch(session, page)
                counts[slot] += 1
                if time.monotonic() >= deadline:
                    return

    workers = [threading.Thread(target=worker, args=(slot,)) for slot in range(threads)]
    cpu_before = sum(server.cpu_times()[:2])
    started = time.monotonic()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    served = sum(counts)
    cpu = sum(server.cpu_times()[:2]) - cpu_before
    return Rate(served, served / elapsed, cpu / served * 1000)


def measure(scale: str, seconds: float = 5.0) -> list[Figure]:
    """Start `greenlight sandbox serve`, measure both servers, stop it; the figures, also written to results."""
    load = os.getloadavg()[0]
    server = subprocess.Popen([sys.executable, "-m", "greenlight_dagster.cli", "sandbox", "serve", "--scale",
                               scale, "--sf-rate-limit", str(10**9)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert server.stdout is not None
        info: Info = json.loads(server.stdout.readline())
        watched = psutil.Process(server.pid)
        fetch_pw, pw_pages = pw_page_request(info)
        rates = {
            "pw_cold": pages_per_second(fetch_pw, iter(range(1, pw_pages + 1)), seconds, 2, watched),
            "pw": pages_per_second(fetch_pw, cycle(range(1, min(HOT_PAGES, pw_pages) + 1)), seconds, 2, watched),
            "sf": pages_per_second(sf_page_request(info), cycle((1, 2, 3)), seconds, 2, watched),
        }
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=60)
    names = {"pw_cold": f"PW getWorkOrders pages of 100, each read once ({scale})",
             "pw": f"PW getWorkOrders pages of 100, first {HOT_PAGES} again and again ({scale})",
             "sf": f"SF /jobs pages of 50 ({scale})"}
    figures = []
    for key, rate in rates.items():
        # The target is on the cached PW pass and SF; the cold pass is context (at demo it is 30 pages).
        judged = key != "pw_cold"
        figures += [
            Figure(f"{names[key]}: pages/s", f"{rate.pages_per_second:,.0f}",
                   f">= {TARGET_PAGES_PER_SECOND}" if judged else "",
                   rate.pages_per_second >= TARGET_PAGES_PER_SECOND if judged else None),
            Figure(f"{names[key]}: server CPU ms/page", f"{rate.cpu_ms_per_page:.2f}", "", None),
        ]
    write_results("sandbox", figures, {"scale": scale, "seconds": seconds, "load_average": load,
                                       "pw_pages_in_world": pw_pages, "load_average_after": os.getloadavg()[0],
                                       **{f"{key}_pages": rate.pages for key, rate in rates.items()}})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="demo", choices=tuple(SCALES))
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    figures = measure(args.scale, args.seconds)
    print_table(f"Sandbox throughput, faults off, 2 client threads (load average {load:.1f} at start)", figures)


if __name__ == "__main__":
    main()
