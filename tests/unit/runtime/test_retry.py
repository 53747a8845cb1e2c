"""RetryPolicy: backoff, total deadline, per-attempt timeout = time left, what is retried."""

from __future__ import annotations

import pytest

from arco_runtime.retry import RetryPolicy


class Transient(Exception):
    pass


class Fatal(Exception):
    pass


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, Transient)


def test_each_attempt_gets_the_time_left_capped_and_floored() -> None:
    policy = RetryPolicy(deadline_sec=60.0, attempt_timeout_sec=30.0, min_attempt_timeout_sec=0.1)
    assert policy.attempt_timeout(0.0) == 30.0
    assert policy.attempt_timeout(45.0) == 15.0
    assert policy.attempt_timeout(59.99) == pytest.approx(0.1)
    assert policy.attempt_timeout(75.0) == 0.1
    uncapped = RetryPolicy(deadline_sec=10.0)
    assert uncapped.attempt_timeout(4.0) == 6.0


def test_sync_call_retries_transient_failures_with_backoff() -> None:
    failures = [Transient(), Transient()]
    timeouts: list[float] = []
    sleeps: list[float] = []

    def attempt(timeout: float) -> str:
        timeouts.append(timeout)
        if failures:
            raise failures.pop()
        return "ok"

    policy = RetryPolicy(
        initial_backoff_sec=0.2,
        max_backoff_sec=2.0,
        jitter_sec=0.0,
        deadline_sec=3600.0,
        attempt_timeout_sec=5.0,
    )
    assert policy.call(attempt, retry_if=_transient, sleep=sleeps.append) == "ok"
    assert len(timeouts) == 3
    assert all(0 < t <= 5.0 for t in timeouts)
    assert sleeps == [0.2, 0.4]  # initial * multiplier**n, no jitter


def test_sync_call_stops_after_max_attempts_and_reraises_the_failure() -> None:
    calls = 0

    def attempt(timeout: float) -> None:
        nonlocal calls
        calls += 1
        raise Transient(str(calls))

    policy = RetryPolicy(deadline_sec=3600.0, max_attempts=3)
    with pytest.raises(Transient, match="3"):
        policy.call(attempt, retry_if=_transient, sleep=lambda _s: None)
    assert calls == 3


def test_a_failure_retry_if_refuses_is_raised_at_once() -> None:
    calls = 0

    def attempt(timeout: float) -> None:
        nonlocal calls
        calls += 1
        raise Fatal("no")

    with pytest.raises(Fatal):
        RetryPolicy().call(attempt, retry_if=_transient, sleep=lambda _s: None)
    assert calls == 1


def test_backoff_is_capped_at_max_backoff() -> None:
    sleeps: list[float] = []
    failures = [Transient() for _ in range(6)]

    def attempt(timeout: float) -> str:
        if failures:
            raise failures.pop()
        return "ok"

    policy = RetryPolicy(
        initial_backoff_sec=0.5, max_backoff_sec=1.0, jitter_sec=0.0, deadline_sec=3600.0
    )
    policy.call(attempt, retry_if=_transient, sleep=sleeps.append)
    assert sleeps == [0.5, 1.0, 1.0, 1.0, 1.0, 1.0]


async def test_async_call_retries_and_hands_each_attempt_its_timeout() -> None:
    failures = [Transient()]
    timeouts: list[float] = []
    sleeps: list[float] = []

    async def attempt(timeout: float) -> int:
        timeouts.append(timeout)
        if failures:
            raise failures.pop()
        return 7

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    policy = RetryPolicy(jitter_sec=0.0, deadline_sec=3600.0, attempt_timeout_sec=30.0)
    assert await policy.call_async(attempt, retry_if=_transient, sleep=sleep) == 7
    assert len(timeouts) == 2 and all(0 < t <= 30.0 for t in timeouts)
    assert sleeps == [0.05]


async def test_async_call_raises_a_refused_failure_at_once() -> None:
    async def attempt(timeout: float) -> None:
        raise Fatal("no")

    with pytest.raises(Fatal):
        await RetryPolicy().call_async(attempt, retry_if=_transient)
