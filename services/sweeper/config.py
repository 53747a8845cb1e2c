"""The sweeper's configuration."""

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
    ("ARCO_ORCH_COMPACTOR_ADDRESS", "orchestration compactor gRPC host:port"),
    ("ARCO_CALLBACK_BASE_URL", "api root URL workers call back to (the gateway)"),
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
    ("ARCO_DISPATCH_ADAPTER", "grpc (default), http, cloud_tasks or memory (for redispatch)"),
    ("ARCO_WORKER_TARGETS", "queue=addr,addr;queue2=addr"),
    ("ARCO_TASK_TOKEN_SECRET", "HS256 secret for re-minted task tokens (secret; required)"),
    ("ARCO_TASK_TOKEN_ISSUER", "task-token iss (default arco)"),
    ("ARCO_TASK_TOKEN_AUDIENCE", "task-token aud (default arco-worker-callbacks)"),
    ("ARCO_TASK_TOKEN_TTL_SEC", "task-token lifetime (default 3600)"),
    ("ARCO_WORKER_DISPATCH_SECRET", "shared secret for HTTP dispatch (secret)"),
    *CLOUD_TASKS_ENV,
)


@dataclasses.dataclass(frozen=True)
class SweeperConfig:
    common: CommonConfig
    orch_compactor_address: str
    callback_base_url: str
    sweep_interval_sec: float
    ready_timeout_sec: float
    dispatch_timeout_sec: float
    running_grace_sec: float
    adapter: str
    worker_targets: str
    task_token_issuer: str
    task_token_audience: str
    task_token_ttl_sec: int
    cloud_tasks: CloudTasksConfig
    task_token_secret: str = secret_field()
    worker_dispatch_secret: str = secret_field()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SweeperConfig:
        config = cls(
            common=CommonConfig.from_env(env, service="sweeper", default_listen="127.0.0.1:50072"),
            orch_compactor_address=env_str(env, "ARCO_ORCH_COMPACTOR_ADDRESS", "127.0.0.1:50061"),
            callback_base_url=env_str(env, "ARCO_CALLBACK_BASE_URL", "http://127.0.0.1:8080"),
            sweep_interval_sec=env_float(env, "ARCO_SWEEP_INTERVAL_SEC", 30.0, minimum=0.05),
            ready_timeout_sec=env_float(env, "ARCO_SWEEP_READY_TIMEOUT_SEC", 300.0),
            dispatch_timeout_sec=env_float(env, "ARCO_SWEEP_DISPATCH_TIMEOUT_SEC", 600.0),
            running_grace_sec=env_float(env, "ARCO_SWEEP_RUNNING_GRACE_SEC", 30.0),
            adapter=env_str(env, "ARCO_DISPATCH_ADAPTER", "grpc"),
            worker_targets=env_str(env, "ARCO_WORKER_TARGETS"),
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
