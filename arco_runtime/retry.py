"""One retry policy for every idempotent call an Arco process makes.

A :class:`RetryPolicy` is a frozen value: exponential backoff with jitter between attempts,
one total deadline for all of them, and each attempt's timeout is the time left before that
deadline (capped by ``attempt_timeout_sec``). ``call`` and ``call_async`` run a function
under the policy; the function receives the timeout its attempt may use. Only failures
``retry_if`` accepts are retried; the last failure is re-raised as it is.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import tenacity

__all__ = ["RetryPolicy"]

T = TypeVar("T")

RetryIf = Callable[[BaseException], bool]
BeforeSleep = Callable[[tenacity.RetryCallState], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff ``initial_backoff_sec * multiplier**n`` plus up to ``jitter_sec`` of random
    jitter, at most ``max_backoff_sec``; no new attempt once ``deadline_sec`` has passed
    since the first one (or after ``max_attempts``)."""

    initial_backoff_sec: float = 0.05
    max_backoff_sec: float = 1.0
    multiplier: float = 2.0
    jitter_sec: float = 0.05
    deadline_sec: float = 60.0
    # Each attempt gets the time left before the deadline, at most this much ...
    attempt_timeout_sec: float | None = None
    # ... and at least this much (an attempt that starts just before the deadline).
    min_attempt_timeout_sec: float = 0.1
    max_attempts: int | None = None

    def attempt_timeout(self, elapsed_sec: float) -> float:
        """The timeout of an attempt that starts ``elapsed_sec`` after the first one."""
        remaining = self.deadline_sec - elapsed_sec
        if self.attempt_timeout_sec is not None:
            remaining = min(self.attempt_timeout_sec, remaining)
        return max(self.min_attempt_timeout_sec, remaining)

    def _options(
        self, retry_if: RetryIf, before_sleep: BeforeSleep | None, sleep: Any
    ) -> dict[str, Any]:
        stop: tenacity.stop.stop_base = tenacity.stop_after_delay(self.deadline_sec)
        if self.max_attempts is not None:
            stop = stop | tenacity.stop_after_attempt(self.max_attempts)
        options: dict[str, Any] = {
            "stop": stop,
            "wait": tenacity.wait_exponential_jitter(
                multiplier=self.initial_backoff_sec,
                max=self.max_backoff_sec,
                exp_base=self.multiplier,
                jitter=self.jitter_sec,
            ),
            "retry": tenacity.retry_if_exception(retry_if),
            "reraise": True,
            "before_sleep": before_sleep,
        }
        if sleep is not None:
            options["sleep"] = sleep
        return options

    def call(
        self,
        fn: Callable[[float], T],
        *,
        retry_if: RetryIf,
        before_sleep: BeforeSleep | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> T:
        """``fn(timeout)`` until it returns, a failure is not retryable, or time is up."""
        started = time.monotonic()
        retrying = tenacity.Retrying(**self._options(retry_if, before_sleep, sleep))
        return retrying(lambda: fn(self.attempt_timeout(time.monotonic() - started)))

    async def call_async(
        self,
        fn: Callable[[float], Awaitable[T]],
        *,
        retry_if: RetryIf,
        before_sleep: BeforeSleep | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> T:
        """``await fn(timeout)`` until it returns, a failure is not retryable, or time is up."""
        started = time.monotonic()
        options = self._options(retry_if, before_sleep, sleep)
        async for attempt in tenacity.AsyncRetrying(**options):
            with attempt:
                return await fn(self.attempt_timeout(time.monotonic() - started))
        raise AssertionError("unreachable: tenacity re-raises the last failure")
