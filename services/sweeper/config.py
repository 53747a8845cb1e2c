"""The sweeper's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from services.common.config import CommonConfig, env_float, env_str, secret_field

SERVICE_ENV = (
    ("ARCO_ORCH_COMPACTOR_ADDRESS", "orchestration compactor gRPC host:port"),
    ("ARCO_CALLBACK_BASE_URL", "api root URL workers call back to"),
    ("ARCO_SWEEP_INTERVAL_SEC", "seconds between periodic sweeps (default 30)"),
    ("ARCO_TASK_TOKEN_SECRET", "HS256 secret for re-minted task tokens (secret)"),
)


@dataclasses.dataclass(frozen=True)
class SweeperConfig:
    common: CommonConfig
    orch_compactor_address: str
    callback_base_url: str
    sweep_interval_sec: float
    task_token_secret: str = secret_field()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SweeperConfig:
        return cls(
            common=CommonConfig.from_env(env, service="sweeper", default_listen="127.0.0.1:50072"),
            orch_compactor_address=env_str(env, "ARCO_ORCH_COMPACTOR_ADDRESS", "127.0.0.1:50061"),
            callback_base_url=env_str(env, "ARCO_CALLBACK_BASE_URL", "http://127.0.0.1:8080"),
            sweep_interval_sec=env_float(env, "ARCO_SWEEP_INTERVAL_SEC", 30.0, minimum=0.1),
            task_token_secret=env_str(env, "ARCO_TASK_TOKEN_SECRET"),
        )
