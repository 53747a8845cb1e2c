"""The api service's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from services.common.config import CommonConfig, env_str, secret_field

SERVICE_ENV = (
    ("ARCO_ORCH_COMPACTOR_ADDRESS", "orchestration compactor gRPC host:port"),
    ("ARCO_CATALOG_COMPACTOR_ADDRESS", "catalog compactor gRPC host:port"),
    ("ARCO_TASK_TOKEN_SECRET", "HS256 secret for worker task tokens (secret)"),
    ("ARCO_IDENTITY_SECRET", "HMAC secret the gateway signs forwarded identity with (secret)"),
)


@dataclasses.dataclass(frozen=True)
class ApiConfig:
    common: CommonConfig
    orch_compactor_address: str
    catalog_compactor_address: str
    task_token_secret: str = secret_field()
    identity_secret: str = secret_field()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiConfig:
        return cls(
            common=CommonConfig.from_env(env, service="api", default_listen="127.0.0.1:50051"),
            orch_compactor_address=env_str(env, "ARCO_ORCH_COMPACTOR_ADDRESS", "127.0.0.1:50061"),
            catalog_compactor_address=env_str(
                env, "ARCO_CATALOG_COMPACTOR_ADDRESS", "127.0.0.1:50062"
            ),
            task_token_secret=env_str(env, "ARCO_TASK_TOKEN_SECRET"),
            identity_secret=env_str(env, "ARCO_IDENTITY_SECRET"),
        )
