"""One circuit breaker per target system per run, shared by every asset of the run.

Why per run and not per client: each asset builds its own client, and a breaker per client
meant a PropertyWare outage was paid for by every PW asset in turn (retries with backoff
until its own breaker opened: about 50 s for the seven PW assets of a sync). The resources
now build the breaker once in `setup_for_execution` and hand it to every client they build:

* in one process (``execute_in_process``, ``greenlight sync``, the in-process executor) the
  resources are set up once per run, so every step shares the same breaker object;
* under the multiprocess executor (runs the daemon launches) each step sets the resources up
  in its own process, so the breaker that opens also writes a run tag
  (``greenlight/circuit_breaker/<target>``: failures and when), and a step setting up later
  in the same run starts with the breaker open. The UI shows that tag on the run.

Outside a run (a sensor's evaluation, a test building the resource) there is no run to share
with and the breaker is the resource's own.
"""

from __future__ import annotations

import json
import time

import dagster as dg

from greenlight_dagster.clients.resilience import CircuitBreaker

TAG_PREFIX = "greenlight/circuit_breaker/"


def breaker_tag(name: str) -> str:
    """The run tag recording that ``name``'s breaker opened in the run."""
    return f"{TAG_PREFIX}{name.lower()}"


def run_breaker(context: dg.InitResourceContext, name: str, *, failure_threshold: int,
                reset_after: float) -> CircuitBreaker:
    """The breaker of target ``name`` for the run being set up, open if a step of the run opened it."""
    instance, log = context.instance, context.log
    run_id = context.run.run_id if context.run is not None else None
    tag = breaker_tag(name)

    def opened(message: str) -> None:
        if log is not None:
            log.warning(message)
        if instance is not None and run_id is not None:
            instance.add_run_tags(run_id, {tag: json.dumps({"failures": breaker.failures, "opened_at": time.time()})})

    breaker = CircuitBreaker(name, failure_threshold=failure_threshold, reset_after=reset_after, on_open=opened)
    if instance is not None and run_id is not None:
        run = instance.get_run_by_id(run_id)
        recorded = run.tags.get(tag) if run is not None else None
        if recorded:
            seen = json.loads(recorded)
            breaker.open_since(int(seen["failures"]), time.time() - float(seen["opened_at"]))
    return breaker
