"""The sending half of the configuration, shared by the dispatcher and the sweeper.

Both turn outbox rows into signed envelopes through the same adapter, so they read the
same settings the same way and build their ``Sender`` with :func:`build_sender`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from arco_core.clock import Clock
from arco_core.paths import Scope
from arco_core.tokens import TaskTokenSigner
from services.common.config import ConfigError, env_int, env_str, secret_field
from services.common.dispatch import (
    CLOUD_TASKS_ENV,
    CloudTasksConfig,
    EnvelopeBuilder,
    build_adapter,
)
from services.common.sender import Sender

SENDER_ENV = (
    ("ARCO_CALLBACK_BASE_URL", "api root URL workers call back to (the gateway)"),
    ("ARCO_DISPATCH_ADAPTER", "grpc (default), http, cloud_tasks or memory"),
    ("ARCO_WORKER_TARGETS", "queue=addr,addr;queue2=addr (grpc host:port or http base URLs)"),
    ("ARCO_TASK_TOKEN_SECRET", "HS256 secret for minted task tokens (secret; required)"),
    ("ARCO_TASK_TOKEN_ISSUER", "task-token iss (default arco)"),
    ("ARCO_TASK_TOKEN_AUDIENCE", "task-token aud (default arco-worker-callbacks)"),
    ("ARCO_TASK_TOKEN_TTL_SEC", "task-token lifetime in seconds (default 3600)"),
    ("ARCO_WORKER_DISPATCH_SECRET", "shared secret for HTTP dispatch (secret)"),
    *CLOUD_TASKS_ENV,
)


@dataclasses.dataclass(frozen=True)
class SenderConfig:
    callback_base_url: str
    adapter: str
    worker_targets: str
    task_token_issuer: str
    task_token_audience: str
    task_token_ttl_sec: int
    cloud_tasks: CloudTasksConfig
    task_token_secret: str = secret_field()
    worker_dispatch_secret: str = secret_field()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SenderConfig:
        config = cls(
            callback_base_url=env_str(env, "ARCO_CALLBACK_BASE_URL", "http://127.0.0.1:8080"),
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


def build_sender(
    config: SenderConfig, scope: Scope, clock: Clock, *, source: str, concurrency: int = 32
) -> Sender:
    """The adapter, the token signer and the envelope builder this configuration names."""
    adapter = build_adapter(
        config.adapter,
        config.worker_targets,
        config.worker_dispatch_secret,
        cloud_tasks=config.cloud_tasks,
    )
    signer = TaskTokenSigner(
        config.task_token_secret,
        config.task_token_issuer,
        config.task_token_audience,
        config.task_token_ttl_sec,
        clock,
    )
    envelopes = EnvelopeBuilder(scope, signer, config.callback_base_url)
    return Sender(scope, clock, adapter, envelopes, concurrency=concurrency, source=source)
