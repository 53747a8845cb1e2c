"""In-process per-key rate limiting (GCRA), with a bounded LRU of keys.

GCRA keeps one number per key, the theoretical arrival time (TAT). A request at ``now``
is allowed when ``TAT - (burst - 1) * interval <= now``; it then moves TAT one interval on,
so ``burst`` requests pass back to back and then one per interval.
State is per process: replicas do not share it (as in the reference). The gateway limits
users per tenant with it; the api limits worker callbacks per verified run with it.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int  # requests per minute, for X-RateLimit-Limit
    remaining: int
    retry_after_sec: int  # whole seconds (>= 1) when refused, else 0


class RateLimiter:
    def __init__(
        self, per_minute: int, burst: int, max_keys: int, clock: Callable[[], float]
    ) -> None:
        if per_minute < 1 or burst < 1 or max_keys < 1:
            raise ValueError("per_minute, burst and max_keys must be >= 1")
        self.per_minute = per_minute
        self._interval = 60.0 / per_minute
        self._burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._tat: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tat)

    def check(self, key: str) -> Decision:
        now = self._clock()
        tat = max(self._tat.get(key, now), now)
        allow_at = tat - (self._burst - 1) * self._interval
        if allow_at > now:
            self._touch(key, tat)
            return Decision(False, self.per_minute, 0, max(1, math.ceil(allow_at - now)))
        new_tat = tat + self._interval
        self._touch(key, new_tat)
        remaining = int((now - (new_tat - self._burst * self._interval)) / self._interval)
        return Decision(True, self.per_minute, max(0, remaining), 0)

    def _touch(self, key: str, tat: float) -> None:
        self._tat[key] = tat
        self._tat.move_to_end(key)
        while len(self._tat) > self._max_keys:
            self._tat.popitem(last=False)
