"""The sweeper's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from services.common.config import (
    CommonConfig,
    env_float,
    env_str,
)
from services.common.sender_config import SENDER_ENV, SenderConfig

SERVICE_ENV = (
    ("ARCO_ORCH_COMPACTOR_ADDRESS", "orchestration compactor gRPC host:port"),
    (
        "ARCO_SWEEP_INTERVAL_SEC",
        "longest pause between sweeps (default 30); due repairs wake it sooner",
    ),
    (
        "ARCO_SWEEP_READY_TIMEOUT_SEC",
        "READY without dispatch for longer is re-requested (default 300)",
    ),
    (
        "ARCO_SWEEP_DISPATCH_TIMEOUT_SEC",
        "an unstarted dispatch older than this is re-sent (default 600)",
    ),
    (
        "ARCO_SWEEP_RUNNING_GRACE_SEC",
        "heartbeat timeout grace before a RUNNING task is failed (default 30)",
    ),
    *SENDER_ENV,
)


@dataclasses.dataclass(frozen=True)
class SweeperConfig:
    common: CommonConfig
    sender: SenderConfig
    orch_compactor_address: str
    sweep_interval_sec: float
    ready_timeout_sec: float
    dispatch_timeout_sec: float
    running_grace_sec: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SweeperConfig:
        return cls(
            common=CommonConfig.from_env(env, service="sweeper", default_listen="127.0.0.1:50072"),
            orch_compactor_address=env_str(env, "ARCO_ORCH_COMPACTOR_ADDRESS", "127.0.0.1:50061"),
            sweep_interval_sec=env_float(env, "ARCO_SWEEP_INTERVAL_SEC", 30.0, minimum=0.05),
            ready_timeout_sec=env_float(env, "ARCO_SWEEP_READY_TIMEOUT_SEC", 300.0),
            dispatch_timeout_sec=env_float(env, "ARCO_SWEEP_DISPATCH_TIMEOUT_SEC", 600.0),
            running_grace_sec=env_float(env, "ARCO_SWEEP_RUNNING_GRACE_SEC", 30.0),
            # last, so its required-secret check follows the per-field parse errors
            sender=SenderConfig.from_env(env),
        )
