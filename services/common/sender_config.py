"""The sending half of the configuration, shared by the dispatcher and the sweeper.

Both turn outbox rows into signed envelopes through the same adapter, so they read the
same settings the same way and build their ``Sender`` with :func:`build_sender`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from arco_core.clock import Clock
from arco_core.paths import Scope
from arco_core.tokens import TaskTokenSigner
from arco_runtime.settings import DISPATCH_SECRET, ConfigError, Setting, setting_field, text
from arco_runtime.tls import TlsConfig
from services.common.config import (
    TASK_TOKEN_AUDIENCE,
    TASK_TOKEN_ISSUER,
    TASK_TOKEN_SECRET,
    TASK_TOKEN_TTL_SEC,
)
from services.common.dispatch import (
    CLOUD_TASKS_SETTINGS,
    CloudTasksConfig,
    EnvelopeBuilder,
    build_adapter,
)
from services.common.sender import Sender

CALLBACK_BASE_URL = text(
    "ARCO_CALLBACK_BASE_URL",
    "api root URL workers call back to (the gateway)",
    "http://127.0.0.1:8080",
)
DISPATCH_ADAPTER = text("ARCO_DISPATCH_ADAPTER", "grpc, http, cloud_tasks or memory", "grpc")
WORKER_TARGETS = text(
    "ARCO_WORKER_TARGETS", "queue=addr,addr;queue2=addr (grpc host:port or http base URLs)"
)
SENDER_SETTINGS = (
    CALLBACK_BASE_URL,
    DISPATCH_ADAPTER,
    WORKER_TARGETS,
    TASK_TOKEN_SECRET,
    TASK_TOKEN_ISSUER,
    TASK_TOKEN_AUDIENCE,
    TASK_TOKEN_TTL_SEC,
    DISPATCH_SECRET,
    *CLOUD_TASKS_SETTINGS,
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
    task_token_secret: str = setting_field(TASK_TOKEN_SECRET)
    worker_dispatch_secret: str = setting_field(DISPATCH_SECRET)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SenderConfig:
        config = cls(
            callback_base_url=CALLBACK_BASE_URL.read(env),
            adapter=DISPATCH_ADAPTER.read(env),
            worker_targets=WORKER_TARGETS.read(env),
            task_token_issuer=TASK_TOKEN_ISSUER.read(env),
            task_token_audience=TASK_TOKEN_AUDIENCE.read(env),
            task_token_ttl_sec=TASK_TOKEN_TTL_SEC.read(env),
            cloud_tasks=CloudTasksConfig.from_env(env),
            task_token_secret=TASK_TOKEN_SECRET.read(env),
            worker_dispatch_secret=DISPATCH_SECRET.read(env),
        )
        if not config.task_token_secret:
            raise ConfigError("ARCO_TASK_TOKEN_SECRET is required to mint task tokens")
        if config.adapter == "cloud_tasks":
            config.cloud_tasks.validate()
        return config

    def secrets(self) -> tuple[tuple[Setting[Any], str], ...]:
        """The secrets this sender holds, for the posture check."""
        held: list[tuple[Setting[Any], str]] = [(TASK_TOKEN_SECRET, self.task_token_secret)]
        if self.adapter != "memory":
            held.append((DISPATCH_SECRET, self.worker_dispatch_secret))
        return tuple(held)


def build_sender(
    config: SenderConfig,
    scope: Scope,
    clock: Clock,
    tls: TlsConfig,
    *,
    source: str,
    concurrency: int = 32,
) -> Sender:
    """The adapter, the token signer and the envelope builder this configuration names."""
    adapter = build_adapter(
        config.adapter,
        config.worker_targets,
        config.worker_dispatch_secret,
        tls,
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
