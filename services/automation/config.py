"""The automation service's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from arco_core.registry import ShardSpec
from arco_runtime.settings import ConfigError, Setting, integer, number
from services.common.config import ORCH_COMPACTOR_ADDRESS, CommonConfig
from services.common.scopes import SCOPE_REFRESH_SEC, SERVED_SETTINGS, read_shard

SAFETY_TICK_SEC = number(
    "ARCO_AUTOMATION_SAFETY_TICK_SEC",
    "longest sleep in seconds between two evaluations when no tick is due and no head arrives",
    60.0,
    minimum=0.05,
)

CLOCK_START_MS = integer(
    "ARCO_AUTOMATION_CLOCK_START_MS",
    "tests only (dev): the service's clock starts at this epoch millisecond instead of now; "
    "0 is the system clock",
    0,
)
CLOCK_RATE = number(
    "ARCO_AUTOMATION_CLOCK_RATE",
    "tests only (dev): how many times faster than real time that clock runs",
    1.0,
    minimum=0.001,
)

SERVICE_SETTINGS: tuple[Setting[Any], ...] = (
    *SERVED_SETTINGS,
    ORCH_COMPACTOR_ADDRESS,
    SAFETY_TICK_SEC,
    CLOCK_START_MS,
    CLOCK_RATE,
)


@dataclasses.dataclass(frozen=True)
class AutomationConfig:
    common: CommonConfig
    orch_compactor_address: str
    safety_tick_sec: float
    clock_start_ms: int
    clock_rate: float
    # The registered scopes of this shard are served; the registry is re-read this often.
    shard: ShardSpec
    scope_refresh_sec: float

    @property
    def clock_warped(self) -> bool:
        return self.clock_start_ms != 0 or self.clock_rate != 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AutomationConfig:
        config = cls(
            common=CommonConfig.from_env(
                env, service="automation", default_listen="127.0.0.1:50081"
            ),
            orch_compactor_address=ORCH_COMPACTOR_ADDRESS.read(env),
            safety_tick_sec=SAFETY_TICK_SEC.read(env),
            clock_start_ms=CLOCK_START_MS.read(env),
            clock_rate=CLOCK_RATE.read(env),
            shard=read_shard(env),
            scope_refresh_sec=SCOPE_REFRESH_SEC.read(env),
        )
        if config.clock_warped and config.common.environment != "dev":
            raise ConfigError(
                f"{CLOCK_START_MS.name} and {CLOCK_RATE.name} are for tests: refused outside "
                f"ARCO_ENVIRONMENT=dev (got {config.common.environment})"
            )
        return config
