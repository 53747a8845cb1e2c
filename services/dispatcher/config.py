"""The dispatcher's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from services.common.config import (
    CommonConfig,
    env_float,
    env_int,
    env_str,
)
from services.common.sender_config import SENDER_ENV, SenderConfig

SERVICE_ENV = (
    ("ARCO_ORCH_COMPACTOR_ADDRESS", "orchestration compactor gRPC host:port (head stream)"),
    ("ARCO_DISPATCH_CONCURRENCY", "envelopes sent in parallel (default 32)"),
    ("ARCO_DISPATCH_SAFETY_TICK_SEC", "re-check interval when no head arrives (default 5)"),
    *SENDER_ENV,
)


@dataclasses.dataclass(frozen=True)
class DispatcherConfig:
    common: CommonConfig
    sender: SenderConfig
    orch_compactor_address: str
    concurrency: int
    safety_tick_sec: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DispatcherConfig:
        return cls(
            common=CommonConfig.from_env(
                env, service="dispatcher", default_listen="127.0.0.1:50071"
            ),
            orch_compactor_address=env_str(env, "ARCO_ORCH_COMPACTOR_ADDRESS", "127.0.0.1:50061"),
            concurrency=env_int(env, "ARCO_DISPATCH_CONCURRENCY", 32, minimum=1),
            safety_tick_sec=env_float(env, "ARCO_DISPATCH_SAFETY_TICK_SEC", 5.0, minimum=0.05),
            # last, so its required-secret check follows the per-field parse errors
            sender=SenderConfig.from_env(env),
        )
