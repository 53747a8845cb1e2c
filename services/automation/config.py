"""The automation service's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from arco_runtime.settings import number
from services.common.config import ORCH_COMPACTOR_ADDRESS, CommonConfig

SAFETY_TICK_SEC = number(
    "ARCO_AUTOMATION_SAFETY_TICK_SEC",
    "longest sleep in seconds between two evaluations when no tick is due and no head arrives",
    60.0,
    minimum=0.05,
)

SERVICE_SETTINGS = (ORCH_COMPACTOR_ADDRESS, SAFETY_TICK_SEC)


@dataclasses.dataclass(frozen=True)
class AutomationConfig:
    common: CommonConfig
    orch_compactor_address: str
    safety_tick_sec: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AutomationConfig:
        return cls(
            common=CommonConfig.from_env(
                env, service="automation", default_listen="127.0.0.1:50081"
            ),
            orch_compactor_address=ORCH_COMPACTOR_ADDRESS.read(env),
            safety_tick_sec=SAFETY_TICK_SEC.read(env),
        )
