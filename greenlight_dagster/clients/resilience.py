"""Retry, circuit breaking, rate limiting and call counters shared by the API clients.

The old sync failed 15-20 % of runs on socket hang-ups and rate limits. Both clients wrap
every call in the same machinery so a transient fault costs a retry, never a lost record:

* `RetryPolicy` - exponential backoff with *full jitter* (AWS architecture blog); a
  caller-supplied classifier decides which errors are worth retrying.
* `CircuitBreaker` - after N consecutive failures the breaker opens and calls fail fast
  with `CircuitOpenError` for a cool-down, so an outage ends a run in seconds instead of
  hanging it for an hour. One breaker serves every client of a target in a run (the Dagster
  resources hold it, `lib.run_breaker`), so the second asset of a run does not pay for the
  outage again; `open_since` lets a breaker adopt what another process of the run saw.
* `TokenBucket` - client-side pacing under a per-minute limit, corrected by the server's
  ``X-Rate-Limit-*`` headers when they disagree with our estimate.

Waits the server controls (``Retry-After``, ``X-Rate-Limit-Reset``) are bounded here, once for
both clients: an absurd value costs at most ``max_delay`` or one rate window, never the run.
* `CallStats` - counters the Dagster assets report as metadata.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TypeVar

T = TypeVar("T")


class ClientError(Exception):
    """Base class of every error the API clients raise on purpose."""


class RetryableError(ClientError):
    """A transient failure (reset, timeout, 5xx, 429, server fault): safe to retry."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    """A 429: the service is up and asks for fewer calls. Retried after its wait, but never counted
    toward the circuit breaker - throttling is not an outage, and opening the breaker on it would
    stop a run that only had to slow down."""


class PermanentError(ClientError):
    """A failure that retrying cannot fix (bad request, validation, auth)."""


class AmbiguousWriteError(RetryableError):
    """A write was sent but no answer proves whether the target stored it (timeout, reset, 5xx, an
    unreadable 2xx). Retrying blindly could create a second record: look it up first (the ledger does)."""


class StopRetrying(Exception):
    """Carries ``error`` out of `call_with_retry`, which would otherwise retry every `RetryableError`
    (an `AmbiguousWriteError` must never be resent by the retry loop)."""

    def __init__(self, error: ClientError) -> None:
        super().__init__(str(error))
        self.error = error


class CircuitOpenError(ClientError):
    """Raised without calling the API while the circuit breaker is open."""


@dataclass
class CallStats:
    """Counters one client accumulates; reported by the assets."""

    calls: int = 0
    retries: int = 0
    failures: int = 0
    rate_limited: int = 0
    wait_seconds: float = 0.0
    bytes_received: int = 0
    circuit_opened: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **increments: float) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, float]:
        data = asdict(self)
        data.pop("_lock", None)
        return data


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter: sleep U(0, min(cap, base * 2**attempt))."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def worst_case_seconds(self, attempt_seconds: float) -> float:
        """The longest one retried call can take: every attempt times out, every wait is the cap.

        The cap, not the jitter's expectation: a server's ``Retry-After`` is honoured up to
        ``max_delay`` on every retry.
        """
        return self.max_attempts * attempt_seconds + (self.max_attempts - 1) * self.max_delay

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before retry ``attempt + 1``: the server's ``retry_after`` when it is a usable number
        (capped at ``max_delay``, so a server cannot park a run), else the jittered backoff."""
        if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
            return min(retry_after, self.max_delay)
        return self.rng.uniform(0.0, min(self.max_delay, self.base_delay * (2**attempt)))


class CircuitBreaker:
    """Consecutive-failure breaker: closed -> open (fail fast) -> half-open (one trial call)."""

    def __init__(self, name: str, failure_threshold: int = 5, reset_after: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_open: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._on_open = on_open
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._clock() - self._opened_at >= self.reset_after else "open"

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far (what the open message and a shared record report)."""
        with self._lock:
            return self._failures

    def open_message(self) -> str:
        """Why calls fail now: the breaker's name, the failures that opened it and how long it stays open."""
        with self._lock:
            left = self.reset_after - (self._clock() - self._opened_at) if self._opened_at is not None else 0.0
            failures = self._failures
        return (f"{self.name} circuit breaker open after {failures} consecutive failures; no {self.name} call "
                f"for the next {max(left, 0.0):.0f} s of this run (is the service down?)")

    def before_call(self) -> None:
        if self.state == "open":
            raise CircuitOpenError(self.open_message())

    def open_since(self, failures: int, seconds_ago: float) -> None:
        """Open as another client of the same run saw it open ``seconds_ago`` (no ``on_open``: not news).

        Past its cool-down this leaves the breaker half-open, so one trial call decides.
        """
        with self._lock:
            self._failures = max(self._failures, failures)
            self._opened_at = self._clock() - max(seconds_ago, 0.0)

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def record_failure(self) -> bool:
        """Count a failure; return True when this failure opened the breaker."""
        with self._lock:
            self._failures += 1
            if self._failures >= self.failure_threshold and (
                self._opened_at is None or self._clock() - self._opened_at >= self.reset_after
            ):
                self._opened_at = self._clock()
                opened = True
            else:
                opened = False
        if opened and self._on_open is not None:
            self._on_open(f"{self.name} circuit breaker opened after {self._failures} consecutive failures")
        return opened


def call_with_retry(fn: Callable[[], T], *, policy: RetryPolicy, breaker: CircuitBreaker, stats: CallStats,
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``fn`` under the breaker, retrying `RetryableError` with backoff.

    `PermanentError` and any other exception propagate at once: retrying a bad request
    only multiplies it. The failure that opens the breaker ends the call at once with
    `CircuitOpenError` (chained to that failure): sleeping a backoff only to meet the open
    breaker would add seconds to every outage.
    """
    attempt = 0
    while True:
        breaker.before_call()
        try:
            result = fn()
        except RetryableError as exc:
            stats.add(failures=1)
            if not isinstance(exc, RateLimited) and breaker.record_failure():
                stats.add(circuit_opened=1)
                raise CircuitOpenError(breaker.open_message()) from exc
            attempt += 1
            if attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt - 1, exc.retry_after)
            stats.add(retries=1, wait_seconds=wait)
            sleep(wait)
            continue
        breaker.record_success()
        return result


#: Seconds added to the server's announced reset before a fresh window is used.
WINDOW_RESET_MARGIN = 0.5
#: The longest wait for a server's window to reset: a rate window is a minute (SF's is), so a reset
#: announced further away (``X-Rate-Limit-Reset`` in the year 3000) is not believed beyond that.
MAX_WINDOW_WAIT = 60.0
#: A 429 although the client paced itself: the share of its current pace it slows to (`TokenBucket.slow_down`).
SLOW_DOWN_FACTOR = 0.8
#: Each answered call wins back this share of the configured pace (`TokenBucket.speed_up`).
RECOVERY_STEP = 0.01
#: The slowest a 429-slowed bucket paces, as a share of the configured pace.
MIN_PACE_SHARE = 0.05


class TokenBucket:
    """Client-side limiter: at most ``rate_per_minute`` acquisitions per rolling minute.

    The bucket starts full (a burst of ``capacity``) and refills continuously. `observe`
    lets the server's ``X-Rate-Limit-Remaining``/``-Reset`` headers correct it: if the server
    says fewer calls remain than we think, we believe the server. When it says none remain
    until its window resets, the bucket is empty until then and *full* right after: the server
    grants a fresh window at once, and trickling back at one call a second from the reset
    doubled the wait of every exhausted window (165 SF pages of a large ingest waited 111 s
    where 55 s was the minimum).
    """

    def __init__(self, rate_per_minute: float, capacity: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 wall_clock: Callable[[], float] = time.time) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        self.rate = rate_per_minute / 60.0
        self.configured_rate = self.rate
        self.capacity = capacity if capacity is not None else rate_per_minute
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._wall = wall_clock
        self._last = clock()
        self._window_reset: float | None = None  # monotonic time the server's exhausted window ends
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        if self._window_reset is not None:
            if now < self._window_reset:
                self._last = now
                return
            self._window_reset, self._tokens = None, self.capacity
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self) -> float:
        """Take one token, sleeping until one is available. Returns seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                wait = (self._window_reset - self._clock() if self._window_reset is not None
                        else (1.0 - self._tokens) / self.rate)
            self._sleep(max(wait, 0.0))
            waited += wait

    def slow_down(self) -> None:
        """A paced call was answered 429: the server's limit is below the pace (an undocumented limit,
        or another client on the same key). Pace at `SLOW_DOWN_FACTOR` of the current rate, so a
        lower real limit costs a few 429s, not one on every call until the retries run out."""
        with self._lock:
            self._refill()
            self.rate = max(self.rate * SLOW_DOWN_FACTOR, self.configured_rate * MIN_PACE_SHARE)

    def speed_up(self) -> None:
        """A call got through: win back `RECOVERY_STEP` of the configured pace, never beyond it, so a
        429 from a moment's jitter at the limit slows the read for a few seconds, not for good."""
        with self._lock:
            self._refill()
            self.rate = min(self.rate + self.configured_rate * RECOVERY_STEP, self.configured_rate)

    def observe(self, remaining: int | None, reset_epoch: float | None) -> None:
        """Align with the server's view of the current window."""
        if remaining is None:
            return
        with self._lock:
            self._refill()
            if remaining < self._tokens:
                self._tokens = float(max(remaining, 0))
            if remaining <= 0 and reset_epoch is not None:
                # Empty until the server's window resets (a little after, for clock skew), then full.
                wait = reset_epoch - self._wall()
                wait = min(wait, MAX_WINDOW_WAIT) if math.isfinite(wait) and wait > 0 else 0.0
                self._tokens = 0.0
                self._window_reset = self._clock() + wait + WINDOW_RESET_MARGIN
