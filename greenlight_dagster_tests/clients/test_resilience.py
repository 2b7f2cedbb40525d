"""Retry, circuit breaker and token bucket, driven by fake clocks (no sleeping); the breaker shared by a run."""

from __future__ import annotations

import json
import random
import socket
import time
from typing import Any

import dagster as dg
import pytest

from greenlight_dagster.clients.resilience import (
    MAX_WINDOW_WAIT,
    MIN_PACE_SHARE,
    WINDOW_RESET_MARGIN,
    CallStats,
    CircuitBreaker,
    CircuitOpenError,
    PermanentError,
    RateLimited,
    RetryableError,
    RetryPolicy,
    TokenBucket,
    call_with_retry,
)
from greenlight_dagster.defs.propertyware.resources import PropertyWareResource
from greenlight_dagster.lib.run_breaker import breaker_tag


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_retries_transient_errors_then_succeeds() -> None:
    attempts: list[int] = []
    clock = FakeClock()

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RetryableError("reset")
        return "ok"

    stats = CallStats()
    result = call_with_retry(flaky, policy=RetryPolicy(rng=random.Random(1)), breaker=CircuitBreaker("t"),
                             stats=stats, sleep=clock.sleep)
    assert result == "ok"
    assert len(attempts) == 3
    assert stats.retries == 2 and stats.failures == 2
    assert stats.wait_seconds == pytest.approx(clock.now - 1000.0)


def test_permanent_errors_are_not_retried() -> None:
    calls: list[int] = []

    def bad() -> None:
        calls.append(1)
        raise PermanentError("422 customer_name: required")

    with pytest.raises(PermanentError, match="customer_name"):
        call_with_retry(bad, policy=RetryPolicy(), breaker=CircuitBreaker("t"), stats=CallStats(),
                        sleep=lambda s: None)
    assert calls == [1]


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_delay=10.0)
    assert policy.delay(0, retry_after=3.0) == 3.0
    assert policy.delay(5, retry_after=99.0) == 10.0
    delays = [RetryPolicy(base_delay=1.0, rng=random.Random(s)).delay(3) for s in range(50)]
    assert all(0.0 <= d <= 8.0 for d in delays) and max(delays) > 4.0  # full jitter spreads the herd


def test_throttling_is_waited_out_and_never_opens_the_breaker() -> None:
    """A 429 storm from a service that is up: the breaker opened after five and stopped the read
    (clients/test_pw_rest.py's rate-limit test failed that way under load)."""
    clock = FakeClock()
    breaker = CircuitBreaker("PropertyWare", failure_threshold=3, reset_after=60, clock=clock)
    answers = iter([RateLimited("HTTP 429")] * 6 + [None])

    def throttled() -> str:
        if (error := next(answers)) is not None:
            raise error
        return "page"

    assert call_with_retry(throttled, policy=RetryPolicy(max_attempts=10), breaker=breaker, stats=CallStats(),
                           sleep=clock.sleep) == "page"
    assert breaker.state == "closed"


def test_breaker_opens_fails_fast_and_recovers_after_cool_down() -> None:
    clock = FakeClock()
    opened: list[str] = []
    breaker = CircuitBreaker("PropertyWare", failure_threshold=3, reset_after=60, clock=clock, on_open=opened.append)
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise RetryableError("connection refused")

    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.sleep(seconds)

    with pytest.raises(CircuitOpenError) as raised:
        call_with_retry(down, policy=RetryPolicy(max_attempts=10), breaker=breaker, stats=CallStats(), sleep=sleep)
    assert len(calls) == 3 and breaker.state == "open"
    assert len(slept) == 2  # the failure that opened the breaker ends the call: no backoff before the refusal
    assert isinstance(raised.value.__cause__, RetryableError)
    assert opened and "PropertyWare circuit breaker opened" in opened[0]
    with pytest.raises(CircuitOpenError, match="PropertyWare circuit breaker open after 3 consecutive failures; "
                                               "no PropertyWare call for the next 60 s"):
        breaker.before_call()
    clock.now += 61
    assert breaker.state == "half-open"
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"


def test_open_since_adopts_what_another_process_of_the_run_saw() -> None:
    clock = FakeClock()
    opened: list[str] = []
    breaker = CircuitBreaker("ServiceFusion", failure_threshold=5, reset_after=60, clock=clock, on_open=opened.append)
    breaker.open_since(5, seconds_ago=20)
    assert breaker.state == "open" and breaker.failures == 5 and not opened
    with pytest.raises(CircuitOpenError, match="after 5 consecutive failures; no ServiceFusion call for the next 40 s"):
        breaker.before_call()
    breaker.open_since(5, seconds_ago=61)
    assert breaker.state == "half-open"  # its cool-down is over: one trial call decides


def _refused_url() -> str:
    """A WSDL URL on a port nobody listens on: every connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/pw?wsdl"


@dg.op
def call_pw(propertyware: PropertyWareResource) -> dict[str, Any]:
    """One PW call through its own client; returns how it ended and what it cost."""
    client = propertyware.build_client().soap  # SOAP only here: the facade's one PropertyWare client
    assert client is not None
    try:
        client.echo("ping")
        outcome = "ok"
    except Exception as exc:
        outcome = str(exc)
    return {"outcome": outcome, "failures": client.stats.failures}


@dg.job
def three_pw_steps() -> None:
    call_pw.alias("first")()
    call_pw.alias("second")()
    call_pw.alias("third")()


@pytest.fixture
def down_pw(monkeypatch: pytest.MonkeyPatch) -> PropertyWareResource:
    """PW resource whose deployment points at a refused loopback port (the sandbox flag allows http there)."""
    monkeypatch.setenv("GREENLIGHT_PW_WSDL_URL", _refused_url())
    monkeypatch.setenv("GREENLIGHT_SANDBOX_ENDPOINTS", "1")
    return PropertyWareResource(username="u", password="p", backoff_base_seconds=0.001)


def test_one_breaker_per_run_the_later_steps_fail_fast(down_pw: PropertyWareResource) -> None:
    began = time.monotonic()
    with dg.DagsterInstance.ephemeral() as instance:
        result = three_pw_steps.execute_in_process(resources={"propertyware": down_pw}, instance=instance)
        stored = instance.get_run_by_id(result.run_id)
    ends = [result.output_for_node(step) for step in ("first", "second", "third")]
    assert ends[0]["failures"] == 5  # the first step pays for the outage: the threshold of consecutive failures
    assert [e["failures"] for e in ends[1:]] == [0, 0]  # the later ones never call PropertyWare
    assert all(e["outcome"].startswith("PropertyWare circuit breaker open after 5 consecutive failures")
               for e in ends), ends
    assert time.monotonic() - began < 30
    assert stored is not None  # the run tag a later step's process would read (multiprocess executor)
    assert json.loads(stored.tags[breaker_tag("PropertyWare")])["failures"] == 5


def test_a_step_set_up_later_in_another_process_adopts_the_run_tag(down_pw: PropertyWareResource) -> None:
    """Under the multiprocess executor each step sets its resources up anew: the run tag carries the breaker."""
    tags = {breaker_tag("PropertyWare"): json.dumps({"failures": 5, "opened_at": time.time() - 2})}
    result = three_pw_steps.execute_in_process(resources={"propertyware": down_pw}, tags=tags)
    ends = [result.output_for_node(step) for step in ("first", "second", "third")]
    assert [e["failures"] for e in ends] == [0, 0, 0]
    assert all("open after 5 consecutive failures" in e["outcome"] for e in ends), ends


def test_the_next_run_starts_with_a_closed_breaker(down_pw: PropertyWareResource) -> None:
    """Setup is per run: an outage seen by one run does not refuse the next run's first call."""
    resource = down_pw
    first = three_pw_steps.execute_in_process(resources={"propertyware": resource})
    second = three_pw_steps.execute_in_process(resources={"propertyware": resource})
    assert first.output_for_node("first")["failures"] == second.output_for_node("first")["failures"] == 5


def test_token_bucket_paces_to_the_rate_and_believes_the_server() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep, wall_clock=clock)
    waits = [bucket.acquire() for _ in range(120)]
    assert sum(waits) == pytest.approx(60.0, rel=0.01)  # 60 burst, then one a second
    assert clock.now - 1000.0 == pytest.approx(60.0, rel=0.01)

    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep, wall_clock=clock)
    bucket.observe(remaining=0, reset_epoch=clock.now + 30)
    assert bucket.acquire() == pytest.approx(30.0 + WINDOW_RESET_MARGIN, rel=0.01)
    # The server's new window is whole at once, not trickled back at one call a second.
    assert sum(bucket.acquire() for _ in range(59)) == 0.0
    assert bucket.acquire() == pytest.approx(1.0, rel=0.01)


def test_token_bucket_slows_on_a_429_and_wins_the_pace_back_call_by_call() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, capacity=1.0, clock=clock, sleep=clock.sleep, wall_clock=clock)  # 10 a second
    bucket.acquire()
    assert bucket.acquire() == pytest.approx(0.1)
    bucket.slow_down()
    assert bucket.acquire() == pytest.approx(0.125), "8 a second after one 429"
    for _ in range(19):
        bucket.speed_up()
    assert bucket.rate < bucket.configured_rate
    bucket.speed_up()
    bucket.speed_up()
    assert bucket.rate == pytest.approx(bucket.configured_rate), "20 answered calls win it back, and no more"
    for _ in range(100):
        bucket.slow_down()
    assert bucket.rate == pytest.approx(bucket.configured_rate * MIN_PACE_SHARE), "never slower than the floor"


def test_token_bucket_takes_the_stricter_of_its_count_and_the_servers() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep, wall_clock=clock)
    bucket.observe(remaining=2, reset_epoch=clock.now + 30)
    assert [bucket.acquire() for _ in range(2)] == [0.0, 0.0]
    assert bucket.acquire() == pytest.approx(1.0, rel=0.01), "refills at the rate once the server's count is used"
    bucket.observe(remaining=50, reset_epoch=clock.now + 30)
    assert bucket.acquire() == pytest.approx(1.0, rel=0.01), "a looser server count does not add calls"


@pytest.mark.parametrize("reset_epoch", [32503680000.0, float("inf"), float("nan")])
def test_a_window_reset_far_in_the_future_waits_one_window_at_most(reset_epoch: float) -> None:
    """``X-Rate-Limit-Reset`` in the year 3000 would otherwise park every later call for 974 years."""
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep, wall_clock=clock)
    bucket.observe(remaining=0, reset_epoch=reset_epoch)
    assert bucket.acquire() <= MAX_WINDOW_WAIT + WINDOW_RESET_MARGIN


@pytest.mark.parametrize(("retry_after", "expected"), [("nan", None), ("-5", None), ("inf", None), (1e9, 30.0),
                                                      (2.0, 2.0)])
def test_retry_after_is_used_only_when_it_is_a_sane_number(retry_after: float | str, expected: float | None) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0, rng=random.Random(3))
    delay = policy.delay(0, float(retry_after))
    if expected is None:
        assert 0.0 <= delay <= 0.5  # the ordinary backoff
    else:
        assert delay == expected
