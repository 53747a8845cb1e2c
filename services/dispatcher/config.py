"""The dispatcher's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from services.common.config import CommonConfig, env_str, secret_field

SERVICE_ENV = (
    ("ARCO_ORCH_COMPACTOR_ADDRESS", "orchestration compactor gRPC host:port (head stream)"),
    ("ARCO_CALLBACK_BASE_URL", "api root URL workers call back to"),
    ("ARCO_DISPATCH_ADAPTER", "grpc, http, cloud_tasks or memory (default grpc)"),
    ("ARCO_TASK_TOKEN_SECRET", "HS256 secret for minted task tokens (secret)"),
    ("ARCO_WORKER_DISPATCH_SECRET", "shared secret for HTTP dispatch (secret)"),
)


@dataclasses.dataclass(frozen=True)
class DispatcherConfig:
    common: CommonConfig
    orch_compactor_address: str
    callback_base_url: str
    adapter: str
    task_token_secret: str = secret_field()
    worker_dispatch_secret: str = secret_field()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DispatcherConfig:
        return cls(
            common=CommonConfig.from_env(
                env, service="dispatcher", default_listen="127.0.0.1:50071"
            ),
            orch_compactor_address=env_str(env, "ARCO_ORCH_COMPACTOR_ADDRESS", "127.0.0.1:50061"),
            callback_base_url=env_str(env, "ARCO_CALLBACK_BASE_URL", "http://127.0.0.1:8080"),
            adapter=env_str(env, "ARCO_DISPATCH_ADAPTER", "grpc"),
            task_token_secret=env_str(env, "ARCO_TASK_TOKEN_SECRET"),
            worker_dispatch_secret=env_str(env, "ARCO_WORKER_DISPATCH_SECRET"),
        )
