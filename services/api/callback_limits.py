"""Rate limits of worker callbacks, keyed by what the api verified.

A run's callbacks share one budget, keyed by the tenant and run of the verified task
token: a caller cannot spread load over made-up task ids, nor evict another run's key.
Callbacks whose token does not verify are limited per client address, in a table of
their own, so a flood of forged tokens can neither reach the fold nor push the runs'
keys out of their LRU. The same limits hold over REST (the gateway forwards callbacks
unlimited) and on direct gRPC.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

from arco_core.errors import ResourceExhausted
from arco_core.tokens import TaskClaims
from arco_runtime.ratelimit import Decision, RateLimiter
from arco_runtime.settings import Setting, integer, setting_field

__all__ = ["CALLBACK_LIMIT_SETTINGS", "CallbackLimits", "CallbackLimitsConfig"]

PER_RUN_PER_MIN = integer(
    "ARCO_CALLBACK_RATE_PER_MIN",
    "worker callbacks per minute per run (verified task token's tenant and run); 0 = off",
    60_000,
    minimum=0,
)
PER_RUN_BURST = integer(
    "ARCO_CALLBACK_RATE_BURST", "callbacks one run may send back to back", 5_000, minimum=1
)
UNVERIFIED_PER_MIN = integer(
    "ARCO_CALLBACK_UNVERIFIED_RATE_PER_MIN",
    "callbacks per minute per client address whose task token does not verify; 0 = off",
    120,
    minimum=0,
)
UNVERIFIED_BURST = integer(
    "ARCO_CALLBACK_UNVERIFIED_BURST",
    "unverified callbacks one client address may send back to back",
    30,
    minimum=1,
)
MAX_KEYS = integer(
    "ARCO_CALLBACK_RATE_MAX_KEYS",
    "keys each callback limit table remembers (least recently used go first)",
    10_000,
    minimum=1,
)

CALLBACK_LIMIT_SETTINGS: tuple[Setting[Any], ...] = (
    PER_RUN_PER_MIN,
    PER_RUN_BURST,
    UNVERIFIED_PER_MIN,
    UNVERIFIED_BURST,
    MAX_KEYS,
)


@dataclasses.dataclass(frozen=True)
class CallbackLimitsConfig:
    per_run_per_min: int = setting_field(PER_RUN_PER_MIN)
    per_run_burst: int = setting_field(PER_RUN_BURST)
    unverified_per_min: int = setting_field(UNVERIFIED_PER_MIN)
    unverified_burst: int = setting_field(UNVERIFIED_BURST)
    max_keys: int = setting_field(MAX_KEYS)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CallbackLimitsConfig:
        return cls(
            per_run_per_min=PER_RUN_PER_MIN.read(env),
            per_run_burst=PER_RUN_BURST.read(env),
            unverified_per_min=UNVERIFIED_PER_MIN.read(env),
            unverified_burst=UNVERIFIED_BURST.read(env),
            max_keys=MAX_KEYS.read(env),
        )


def _limiter(
    per_min: int, burst: int, max_keys: int, clock: Callable[[], float]
) -> RateLimiter | None:
    return RateLimiter(per_min, burst, max_keys, clock) if per_min else None


def _refused(decision: Decision, what: str) -> ResourceExhausted:
    return ResourceExhausted(
        f"callback rate limit exceeded ({what}): {decision.limit} per minute; "
        f"retry after {decision.retry_after_sec} s",
        reason="rate_limited",
        metadata={"retry_after_sec": str(decision.retry_after_sec)},
    )


class CallbackLimits:
    def __init__(
        self, config: CallbackLimitsConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._runs = _limiter(config.per_run_per_min, config.per_run_burst, config.max_keys, clock)
        self._unverified = _limiter(
            config.unverified_per_min, config.unverified_burst, config.max_keys, clock
        )

    def verified(self, claims: TaskClaims) -> None:
        """Count a callback whose token verified (ResourceExhausted over the run's budget)."""
        if self._runs is None:
            return
        decision = self._runs.check(f"{claims.tenant_id}/{claims.run_id or claims.task_id}")
        if not decision.allowed:
            raise _refused(decision, "per run")

    def unverified(self, peer: str) -> None:
        """Count a callback whose token did not verify, by client address."""
        if self._unverified is None:
            return
        decision = self._unverified.check(client_address(peer))
        if not decision.allowed:
            raise _refused(decision, "unverified callbacks per client address")


def client_address(peer: str) -> str:
    """The host of a gRPC peer (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``), without its port."""
    kind, _, rest = peer.partition(":")
    host = rest.rsplit(":", 1)[0] if kind in ("ipv4", "ipv6") else rest
    return f"{kind}:{host}"
