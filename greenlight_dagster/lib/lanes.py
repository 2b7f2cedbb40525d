"""PropertyWare and ServiceFusion work side by side inside one step: one thread (a *lane*) per API.

Why inside a step: the two APIs have separate limits (PW answers at its latency, SF allows 60
requests a minute), so a sync that reads or sends to one and then the other pays their sum
when the larger of the two would do. The in-process executor runs steps one after another, and
the multiprocess executor spends more starting processes than the overlap saves (decision 0016,
addendum: 155 s for a sync with nothing to send against 15-28 s in process). So the steps that
talk to both APIs run one lane per API (decision 0021):

* a lane runs its tasks in order, one request stream per API, as the separate steps did;
* only the step's thread talks to Dagster: lanes hand their log lines and results over a
  queue, and the step logs and yields them as they arrive, so each asset's materialization
  appears the moment its lane finishes it;
* a failed task is reported and the lane goes on with the next one (independent entities), or
  stops (``stops_on_failure``: later tasks need the earlier ones, e.g. SF jobs need their
  customers); the step fails at the end, naming every failed asset, after the others landed.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

#: The concurrency pool of every step that talks to PW or SF: one such step at a time across runs, and in
#: it one request stream per API (its lane). One pool, because a step holds one and these hold both APIs.
EXTERNAL_APIS_POOL = "external_apis"
#: The metadata of a lanes step's failure that names each failed asset with its error's first line.
FAILED_ASSETS = "failed_assets"
#: How often the step's thread looks up from the queue: it must stay responsive to a run's termination.
POLL_SECONDS = 0.5


class LaneLog:
    """The log a lane's task writes to: each line goes to the step's thread, prefixed with the asset."""

    def __init__(self, events: queue.Queue[Any], prefix: str) -> None:
        self._events = events
        self._prefix = prefix

    def _put(self, level: str, message: object) -> None:
        self._events.put(("log", level, f"{self._prefix}: {message}"))

    def debug(self, message: object, *_: object, **__: object) -> None:
        self._put("debug", message)

    def info(self, message: object, *_: object, **__: object) -> None:
        self._put("info", message)

    def warning(self, message: object, *_: object, **__: object) -> None:
        self._put("warning", message)

    def error(self, message: object, *_: object, **__: object) -> None:
        self._put("error", message)


@dataclass(frozen=True)
class Task:
    """One asset's work in a lane: given the lane's log, it returns the asset's materialization."""

    key: dg.AssetKey
    run: Callable[[LaneLog], dg.MaterializeResult]


@dataclass(frozen=True)
class Lane:
    """The tasks of one API, run in order on one thread."""

    name: str
    tasks: Sequence[Task]
    stops_on_failure: bool = False


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised, or did not run because an earlier one of its lane failed."""

    key: dg.AssetKey
    error: BaseException | None
    detail: str

    def describe(self) -> str:
        return f"{self.key.to_user_string()}: {self.detail}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _run_lane(lane: Lane, events: queue.Queue[Any], stop: threading.Event) -> None:
    failed: dg.AssetKey | None = None
    try:
        for task in lane.tasks:
            if stop.is_set():
                return
            if failed is not None:
                events.put(("failed", TaskFailure(task.key, None, f"not run: {failed.to_user_string()} failed")))
                continue
            try:
                events.put(("result", task.run(LaneLog(events, task.key.to_user_string()))))
            except Exception as exc:  # reported to the step's thread, which fails the step at the end
                events.put(("log", "error", f"{task.key.to_user_string()} failed:\n{traceback.format_exc()}"))
                events.put(("failed", TaskFailure(task.key, exc, _first_line(exc))))
                if lane.stops_on_failure:
                    failed = task.key
    finally:
        events.put(("done", lane.name))


def run_lanes(log: Any, lanes: Sequence[Lane]) -> Iterator[dg.MaterializeResult]:
    """Run ``lanes`` side by side; yield each materialization as it lands; fail at the end if a task failed.

    ``log`` is the step's own log (``context.log``). A lane without tasks starts no thread.
    """
    events: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    running = [lane for lane in lanes if lane.tasks]
    threads = [threading.Thread(target=_run_lane, args=(lane, events, stop), name=f"lane-{lane.name}", daemon=True)
               for lane in running]
    failures: list[TaskFailure] = []
    try:
        for thread in threads:
            thread.start()
        open_lanes = len(threads)
        while open_lanes:
            try:
                kind, *payload = events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if kind == "log":
                level, message = payload
                getattr(log, level)(message)
            elif kind == "result":
                yield payload[0]
            elif kind == "failed":
                failures.append(payload[0])
            else:
                open_lanes -= 1
    finally:
        # A run being terminated (or a consumer that stops early) ends the lanes after their current task.
        stop.set()
    if failures:
        raise _step_failure(failures)


def _step_failure(failures: Sequence[TaskFailure]) -> dg.Failure:
    """The step's failure: every failed asset named, the metadata of a task's own `dg.Failure` kept
    (prefixed with its asset), the first error as the cause."""
    metadata: dict[str, Any] = {FAILED_ASSETS: dg.MetadataValue.json({f.key.to_user_string(): f.detail
                                                                         for f in failures})}
    for failure in failures:
        if isinstance(failure.error, dg.Failure):
            metadata.update({f"{failure.key.to_user_string()} {name}": value
                             for name, value in failure.error.metadata.items()})
    failure = dg.Failure(description="; ".join(f.describe() for f in failures), metadata=metadata)
    failure.__cause__ = next((f.error for f in failures if f.error is not None), None)
    return failure


def failed_assets(metadata: Mapping[str, Any]) -> dict[str, str]:
    """What a failed lanes step reported (asset -> "ErrorClass: first line"); empty for any other failure.

    The CLI's summary and the run-failure alert name these assets, as they named the separate steps."""
    value = metadata.get(FAILED_ASSETS)
    found = getattr(value, "value", value)
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}
