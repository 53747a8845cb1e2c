"""The api service's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from services.common.config import CommonConfig, ConfigError, env_int, env_str, secret_field

SERVICE_ENV = (
    (
        "ARCO_ENVIRONMENT",
        "dev (default), staging or prod; outside dev every call needs a signed identity",
    ),
    ("ARCO_ORCH_COMPACTOR_ADDRESS", "orchestration compactor gRPC host:port"),
    ("ARCO_CATALOG_COMPACTOR_ADDRESS", "catalog compactor gRPC host:port"),
    ("ARCO_TASK_TOKEN_SECRET", "HS256 secret of worker task tokens (secret; required)"),
    ("ARCO_TASK_TOKEN_ISSUER", "expected task-token iss (default arco)"),
    ("ARCO_TASK_TOKEN_AUDIENCE", "expected task-token aud (default arco-worker-callbacks)"),
    ("ARCO_IDENTITY_SECRET", "HMAC secret the gateway signs forwarded identity with (secret)"),
    ("ARCO_LOG_MAX_BYTES", "largest accepted task log upload (default 2 MiB)"),
)

ENVIRONMENTS = ("dev", "staging", "prod")


@dataclasses.dataclass(frozen=True)
class ApiConfig:
    common: CommonConfig
    environment: str
    orch_compactor_address: str
    catalog_compactor_address: str
    task_token_issuer: str
    task_token_audience: str
    log_max_bytes: int
    task_token_secret: str = secret_field()
    identity_secret: str = secret_field()

    @property
    def dev(self) -> bool:
        return self.environment == "dev"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiConfig:
        environment = env_str(env, "ARCO_ENVIRONMENT", "dev")
        if environment not in ENVIRONMENTS:
            raise ConfigError(f"ARCO_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}")
        config = cls(
            common=CommonConfig.from_env(env, service="api", default_listen="127.0.0.1:50051"),
            environment=environment,
            orch_compactor_address=env_str(env, "ARCO_ORCH_COMPACTOR_ADDRESS", "127.0.0.1:50061"),
            catalog_compactor_address=env_str(
                env, "ARCO_CATALOG_COMPACTOR_ADDRESS", "127.0.0.1:50062"
            ),
            task_token_issuer=env_str(env, "ARCO_TASK_TOKEN_ISSUER", "arco"),
            task_token_audience=env_str(env, "ARCO_TASK_TOKEN_AUDIENCE", "arco-worker-callbacks"),
            log_max_bytes=env_int(env, "ARCO_LOG_MAX_BYTES", 2 * 1024 * 1024, minimum=1),
            task_token_secret=env_str(env, "ARCO_TASK_TOKEN_SECRET"),
            identity_secret=env_str(env, "ARCO_IDENTITY_SECRET"),
        )
        if not config.task_token_secret:
            raise ConfigError("ARCO_TASK_TOKEN_SECRET is required (worker callbacks are signed)")
        if not config.dev and not config.identity_secret:
            raise ConfigError(
                "ARCO_IDENTITY_SECRET is required outside dev: the api never trusts an "
                "unverified identity"
            )
        return config
