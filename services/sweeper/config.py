"""The sweeper's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from arco_core.registry import ShardSpec
from arco_runtime.settings import Setting, number
from services.common.config import ORCH_COMPACTOR_ADDRESS, CommonConfig
from services.common.scopes import SCOPE_REFRESH_SEC, SERVED_SETTINGS, read_shard
from services.common.sender_config import SENDER_SETTINGS, SenderConfig

SWEEP_INTERVAL_SEC = number(
    "ARCO_SWEEP_INTERVAL_SEC",
    "longest pause between sweeps in seconds; due repairs wake it sooner",
    30.0,
    minimum=0.05,
)
READY_TIMEOUT_SEC = number(
    "ARCO_SWEEP_READY_TIMEOUT_SEC",
    "a READY task without dispatch for longer (seconds) is re-requested",
    300.0,
)
DISPATCH_TIMEOUT_SEC = number(
    "ARCO_SWEEP_DISPATCH_TIMEOUT_SEC",
    "an unstarted dispatch older than this (seconds) is re-sent",
    600.0,
)
RUNNING_GRACE_SEC = number(
    "ARCO_SWEEP_RUNNING_GRACE_SEC",
    "seconds past the heartbeat timeout before a silent RUNNING task is failed",
    30.0,
)
LOOKBACK_SEC = number(
    "ARCO_SWEEP_LOOKBACK_SEC",
    "ledger objects this recent (seconds) are folded if no fold record names them, even "
    "below the watermark; older holes need a whole Rebuild",
    21600.0,
    minimum=1.0,
)

SERVICE_SETTINGS: tuple[Setting[Any], ...] = (
    *SERVED_SETTINGS,
    ORCH_COMPACTOR_ADDRESS,
    SWEEP_INTERVAL_SEC,
    READY_TIMEOUT_SEC,
    DISPATCH_TIMEOUT_SEC,
    RUNNING_GRACE_SEC,
    LOOKBACK_SEC,
    *SENDER_SETTINGS,
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
    lookback_sec: float
    # The registered scopes of this shard are served; the registry is re-read this often.
    shard: ShardSpec
    scope_refresh_sec: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SweeperConfig:
        config = cls(
            common=CommonConfig.from_env(env, service="sweeper", default_listen="127.0.0.1:50072"),
            orch_compactor_address=ORCH_COMPACTOR_ADDRESS.read(env),
            sweep_interval_sec=SWEEP_INTERVAL_SEC.read(env),
            ready_timeout_sec=READY_TIMEOUT_SEC.read(env),
            dispatch_timeout_sec=DISPATCH_TIMEOUT_SEC.read(env),
            running_grace_sec=RUNNING_GRACE_SEC.read(env),
            lookback_sec=LOOKBACK_SEC.read(env),
            shard=read_shard(env),
            scope_refresh_sec=SCOPE_REFRESH_SEC.read(env),
            # last, so its required-secret check follows the per-field parse errors
            sender=SenderConfig.from_env(env),
        )
        config.common.require_secrets(*config.sender.secrets())
        return config
