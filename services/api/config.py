"""The api service's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from arco_runtime.settings import (
    ENVIRONMENT,
    ENVIRONMENTS,
    IDENTITY_SECRET,
    ConfigError,
    integer,
    setting_field,
)
from services.common.config import (
    CATALOG_COMPACTOR_ADDRESS,
    ORCH_COMPACTOR_ADDRESS,
    TASK_TOKEN_AUDIENCE,
    TASK_TOKEN_ISSUER,
    TASK_TOKEN_SECRET,
    CommonConfig,
)

LOG_MAX_BYTES = integer(
    "ARCO_LOG_MAX_BYTES", "largest accepted task log upload, bytes", 2 * 1024 * 1024, minimum=1
)

SERVICE_SETTINGS = (
    ENVIRONMENT,
    ORCH_COMPACTOR_ADDRESS,
    CATALOG_COMPACTOR_ADDRESS,
    TASK_TOKEN_SECRET,
    TASK_TOKEN_ISSUER,
    TASK_TOKEN_AUDIENCE,
    IDENTITY_SECRET,
    LOG_MAX_BYTES,
)


@dataclasses.dataclass(frozen=True)
class ApiConfig:
    common: CommonConfig
    environment: str
    orch_compactor_address: str
    catalog_compactor_address: str
    task_token_issuer: str
    task_token_audience: str
    log_max_bytes: int
    task_token_secret: str = setting_field(TASK_TOKEN_SECRET)
    identity_secret: str = setting_field(IDENTITY_SECRET)

    @property
    def dev(self) -> bool:
        return self.environment == "dev"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiConfig:
        environment = ENVIRONMENT.read(env)
        if environment not in ENVIRONMENTS:
            raise ConfigError(f"ARCO_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}")
        config = cls(
            common=CommonConfig.from_env(env, service="api", default_listen="127.0.0.1:50051"),
            environment=environment,
            orch_compactor_address=ORCH_COMPACTOR_ADDRESS.read(env),
            catalog_compactor_address=CATALOG_COMPACTOR_ADDRESS.read(env),
            task_token_issuer=TASK_TOKEN_ISSUER.read(env),
            task_token_audience=TASK_TOKEN_AUDIENCE.read(env),
            log_max_bytes=LOG_MAX_BYTES.read(env),
            task_token_secret=TASK_TOKEN_SECRET.read(env),
            identity_secret=IDENTITY_SECRET.read(env),
        )
        if not config.task_token_secret:
            raise ConfigError("ARCO_TASK_TOKEN_SECRET is required (worker callbacks are signed)")
        if not config.dev and not config.identity_secret:
            raise ConfigError(
                "ARCO_IDENTITY_SECRET is required outside dev: the api never trusts an "
                "unverified identity"
            )
        return config
