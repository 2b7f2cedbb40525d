"""How many list pages per second the sandbox serves, faults off: it must never be a benchmark's bottleneck.

Target (sandbox issue): at least 200 list pages/s on this 2-core machine, PW pages of 100 work
orders and SF pages of 50 jobs. The client side is kept minimal so the figure is the server's:
the sandbox runs in its own process (`greenlight sandbox serve`, as users run it; in one process
client and server would share the GIL), the PW request is one pre-built SOAP envelope POSTed over
a keep-alive session (no zeep per call), the SF request a plain GET with a bearer token. Two
client threads, like a sync running PW and SF reads side by side.

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
from collections.abc import Callable
from pathlib import Path

import requests
import zeep
from lxml import etree

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Figure, print_table, write_results
from greenlight_dagster.sandbox.generator import SCALES

TARGET_PAGES_PER_SECOND = 200


Info = dict[str, str]


def pw_page_request(info: Info) -> Callable[[requests.Session, int], int]:
    """POST one ``getWorkOrders`` page (100 records); returns the response size."""
    client = zeep.Client(info["pw_wsdl_url"])
    auth = (info["pw_username"], info["pw_password"])
    address = info["pw_wsdl_url"].split("?", 1)[0]

    def envelope(page: int) -> bytes:
        message = client.create_message(client.service, "getWorkOrders",
                                        criteria={"pageNumber": page, "pageSize": 100})
        return bytes(etree.tostring(message))

    bodies = [envelope(page) for page in range(1, 31)]

    def fetch(session: requests.Session, n: int) -> int:
        response = session.post(address, data=bodies[n % len(bodies)], auth=auth,
                                headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
        response.raise_for_status()
        return len(response.content)

    return fetch


def sf_page_request(info: Info) -> Callable[[requests.Session, int], int]:
    """GET one ``/jobs`` page of 50, sorted (an unsorted /jobs hangs by design)."""
    token = requests.post(info["sf_token_url"], json={"grant_type": "client_credentials",
                                                      "client_id": info["sf_client_id"],
                                                      "client_secret": info["sf_client_secret"]},
                          timeout=30).json()["access_token"]

    def fetch(session: requests.Session, n: int) -> int:
        response = session.get(f"{info['sf_base_url']}/jobs", params={"sort": "id", "per-page": 50, "page": n % 3 + 1},
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
        response.raise_for_status()
        return len(response.content)

    return fetch


def pages_per_second(fetch: Callable[[requests.Session, int], int], seconds: float, threads: int) -> float:
    """Pages served per second by ``threads`` clients hammering for ``seconds``."""
    counts = [0] * threads
    deadline = time.monotonic() + seconds

    def worker(slot: int) -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline:
                fetch(session, counts[slot])
                counts[slot] += 1

    workers = [threading.Thread(target=worker, args=(slot,)) for slot in range(threads)]
    started = time.monotonic()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def measure(scale: str, seconds: float = 5.0) -> list[Figure]:
    """Start `greenlight sandbox serve`, measure both servers, stop it; the figures, also written to results."""
    load = os.getloadavg()[0]
    server = subprocess.Popen([sys.executable, "-m", "greenlight_dagster.cli", "sandbox", "serve", "--scale",
                               scale, "--sf-rate-limit", str(10**9)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert server.stdout is not None
        info: Info = json.loads(server.stdout.readline())
        pw = pages_per_second(pw_page_request(info), seconds, threads=2)
        sf = pages_per_second(sf_page_request(info), seconds, threads=2)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=60)
    figures = [
        Figure(f"PW getWorkOrders pages of 100 per second ({scale})", f"{pw:,.0f}",
               f">= {TARGET_PAGES_PER_SECOND}", pw >= TARGET_PAGES_PER_SECOND),
        Figure(f"SF /jobs pages of 50 per second ({scale})", f"{sf:,.0f}",
               f">= {TARGET_PAGES_PER_SECOND}", sf >= TARGET_PAGES_PER_SECOND),
    ]
    write_results("sandbox", figures, {"scale": scale, "seconds": seconds, "load_average": load})
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
