"""The dispatcher's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from services.common.config import (
    CommonConfig,
    ConfigError,
    env_float,
    env_int,
    env_str,
    secret_field,
)
from services.common.dispatch import CLOUD_TASKS_ENV, CloudTasksConfig

SERVICE_ENV = (
    ("ARCO_ORCH_COMPACTOR_ADDRESS", "orchestration compactor gRPC host:port (head stream)"),
    ("ARCO_CALLBACK_BASE_URL", "api root URL workers call back to (the gateway)"),
    ("ARCO_DISPATCH_ADAPTER", "grpc (default), http, cloud_tasks or memory"),
    ("ARCO_WORKER_TARGETS", "queue=addr,addr;queue2=addr (grpc host:port or http base URLs)"),
    ("ARCO_DISPATCH_CONCURRENCY", "envelopes sent in parallel (default 32)"),
    ("ARCO_DISPATCH_SAFETY_TICK_SEC", "re-check interval when no head arrives (default 5)"),
    ("ARCO_TASK_TOKEN_SECRET", "HS256 secret for minted task tokens (secret; required)"),
    ("ARCO_TASK_TOKEN_ISSUER", "task-token iss (default arco)"),
    ("ARCO_TASK_TOKEN_AUDIENCE", "task-token aud (default arco-worker-callbacks)"),
    ("ARCO_TASK_TOKEN_TTL_SEC", "task-token lifetime (default 3600, max 86400)"),
    ("ARCO_WORKER_DISPATCH_SECRET", "shared secret for HTTP dispatch (secret)"),
    *CLOUD_TASKS_ENV,
)


@dataclasses.dataclass(frozen=True)
class DispatcherConfig:
    common: CommonConfig
    orch_compactor_address: str
    callback_base_url: str
    adapter: str
    worker_targets: str
    concurrency: int
    safety_tick_sec: float
    task_token_issuer: str
    task_token_audience: str
    task_token_ttl_sec: int
    cloud_tasks: CloudTasksConfig
    task_token_secret: str = secret_field()
    worker_dispatch_secret: str = secret_field()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DispatcherConfig:
        config = cls(
            common=CommonConfig.from_env(
                env, service="dispatcher", default_listen="127.0.0.1:50071"
            ),
            orch_compactor_address=env_str(env, "ARCO_ORCH_COMPACTOR_ADDRESS", "127.0.0.1:50061"),
            callback_base_url=env_str(env, "ARCO_CALLBACK_BASE_URL", "http://127.0.0.1:8080"),
            adapter=env_str(env, "ARCO_DISPATCH_ADAPTER", "grpc"),
            worker_targets=env_str(env, "ARCO_WORKER_TARGETS"),
            concurrency=env_int(env, "ARCO_DISPATCH_CONCURRENCY", 32, minimum=1),
            safety_tick_sec=env_float(env, "ARCO_DISPATCH_SAFETY_TICK_SEC", 5.0, minimum=0.05),
            task_token_issuer=env_str(env, "ARCO_TASK_TOKEN_ISSUER", "arco"),
            task_token_audience=env_str(env, "ARCO_TASK_TOKEN_AUDIENCE", "arco-worker-callbacks"),
            task_token_ttl_sec=env_int(env, "ARCO_TASK_TOKEN_TTL_SEC", 3600, minimum=1),
            cloud_tasks=CloudTasksConfig.from_env(env),
            task_token_secret=env_str(env, "ARCO_TASK_TOKEN_SECRET"),
            worker_dispatch_secret=env_str(env, "ARCO_WORKER_DISPATCH_SECRET"),
        )
        if not config.task_token_secret:
            raise ConfigError("ARCO_TASK_TOKEN_SECRET is required to mint task tokens")
        if config.adapter == "cloud_tasks":
            config.cloud_tasks.validate()
        return config
