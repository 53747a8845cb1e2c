"""The dispatcher's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from arco_core.registry import ShardSpec
from arco_runtime.settings import Setting, integer, number
from services.common.config import ORCH_COMPACTOR_ADDRESS, CommonConfig
from services.common.scopes import SCOPE_REFRESH_SEC, SERVED_SETTINGS, read_shard
from services.common.sender_config import SENDER_SETTINGS, SenderConfig

CONCURRENCY = integer("ARCO_DISPATCH_CONCURRENCY", "envelopes sent in parallel", 32, minimum=1)
SAFETY_TICK_SEC = number(
    "ARCO_DISPATCH_SAFETY_TICK_SEC",
    "re-check interval in seconds when no head arrives",
    5.0,
    minimum=0.05,
)

SERVICE_SETTINGS: tuple[Setting[Any], ...] = (
    ORCH_COMPACTOR_ADDRESS,
    CONCURRENCY,
    SAFETY_TICK_SEC,
    *SERVED_SETTINGS,
    *SENDER_SETTINGS,
)


@dataclasses.dataclass(frozen=True)
class DispatcherConfig:
    common: CommonConfig
    sender: SenderConfig
    orch_compactor_address: str
    concurrency: int
    safety_tick_sec: float
    # The registered scopes of this shard are served; the registry is re-read this often.
    shard: ShardSpec
    scope_refresh_sec: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DispatcherConfig:
        config = cls(
            common=CommonConfig.from_env(
                env, service="dispatcher", default_listen="127.0.0.1:50071"
            ),
            orch_compactor_address=ORCH_COMPACTOR_ADDRESS.read(env),
            concurrency=CONCURRENCY.read(env),
            safety_tick_sec=SAFETY_TICK_SEC.read(env),
            shard=read_shard(env),
            scope_refresh_sec=SCOPE_REFRESH_SEC.read(env),
            # last, so its required-secret check follows the per-field parse errors
            sender=SenderConfig.from_env(env),
        )
        config.common.require_secrets(*config.sender.secrets())
        return config
