"""Retry, circuit breaker and token bucket, driven by fake clocks (no sleeping)."""

from __future__ import annotations

import random

import pytest

from greenlight_dagster.clients.resilience import (
    CallStats,
    CircuitBreaker,
    CircuitOpenError,
    PermanentError,
    RetryableError,
    RetryPolicy,
    TokenBucket,
    call_with_retry,
)


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


def test_breaker_opens_fails_fast_and_recovers_after_cool_down() -> None:
    clock = FakeClock()
    opened: list[str] = []
    breaker = CircuitBreaker("PropertyWare", failure_threshold=3, reset_after=60, clock=clock, on_open=opened.append)
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise RetryableError("connection refused")

    with pytest.raises((RetryableError, CircuitOpenError)):
        call_with_retry(down, policy=RetryPolicy(max_attempts=10), breaker=breaker, stats=CallStats(),
                        sleep=clock.sleep)
    assert len(calls) == 3 and breaker.state == "open"
    assert opened and "PropertyWare circuit breaker opened" in opened[0]
    with pytest.raises(CircuitOpenError, match="is the service down"):
        breaker.before_call()
    clock.now += 61
    assert breaker.state == "half-open"
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"


def test_token_bucket_paces_to_the_rate_and_believes_the_server() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep, wall_clock=clock)
    waits = [bucket.acquire() for _ in range(120)]
    assert sum(waits) == pytest.approx(60.0, rel=0.01)  # 60 burst, then one a second
    assert clock.now - 1000.0 == pytest.approx(60.0, rel=0.01)

    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep, wall_clock=clock)
    bucket.observe(remaining=0, reset_epoch=clock.now + 30)
    assert bucket.acquire() == pytest.approx(31.0, rel=0.01)
