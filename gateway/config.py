"""The gateway's configuration (frozen, from ARCO_* environment variables)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from services.common.config import (
    ConfigError,
    env_bool,
    env_float,
    env_int,
    env_str,
    secret_field,
)

ENVIRONMENTS = ("dev", "staging", "prod")

SERVICE_ENV = (
    (
        "ARCO_GATEWAY_LISTEN_ADDRESS",
        "HTTP listen host:port (default 127.0.0.1:8080; port 0 picks one)",
    ),
    ("ARCO_API_ADDRESS", "api gRPC host:port (default 127.0.0.1:50051)"),
    ("ARCO_ENVIRONMENT", "dev (default), staging or prod; outside dev iss/aud are required"),
    (
        "ARCO_GATEWAY_DEV_AUTH",
        "true: accept X-Tenant-Id/X-Workspace-Id headers (dev environment only; default false)",
    ),
    ("ARCO_JWT_SECRET", "HS256 key for user bearer tokens (secret)"),
    ("ARCO_JWT_PUBLIC_KEY_PEM", "RS256 public key, PEM text (\\n escapes allowed)"),
    ("ARCO_JWT_PUBLIC_KEY_PATH", "RS256 public key, PEM file (exclusive with the other keys)"),
    ("ARCO_JWT_ISSUER", "required `iss` of user tokens (required outside dev)"),
    ("ARCO_JWT_AUDIENCE", "required `aud` of user tokens (required outside dev)"),
    ("ARCO_JWT_TENANT_CLAIM", "claim holding the tenant id (default tenant)"),
    ("ARCO_JWT_WORKSPACE_CLAIM", "claim holding the workspace id (default workspace)"),
    ("ARCO_JWT_USER_CLAIM", "claim holding the user id, required (default sub)"),
    ("ARCO_JWT_GROUPS_CLAIM", "claim holding groups, string or list (default groups)"),
    ("ARCO_JWT_LEEWAY_SEC", "clock skew allowed on exp/nbf (default 60)"),
    (
        "ARCO_IDENTITY_SECRET",
        "HMAC key signing the identity forwarded to the api (secret; required outside dev)",
    ),
    ("ARCO_IDENTITY_TTL_SEC", "lifetime of a forwarded identity signature (default 60)"),
    ("ARCO_GATEWAY_RATE_LIMIT_PER_MIN", "requests per minute per tenant (default 500; 0 = off)"),
    ("ARCO_GATEWAY_RATE_LIMIT_BURST", "burst per tenant (default 50)"),
    ("ARCO_GATEWAY_URL_RATE_LIMIT_PER_MIN", "browser/urls mints per minute (default 100)"),
    ("ARCO_GATEWAY_URL_RATE_LIMIT_BURST", "browser/urls burst (default 25)"),
    ("ARCO_GATEWAY_RATE_LIMIT_MAX_KEYS", "tenants tracked before LRU eviction (default 10000)"),
    ("ARCO_GATEWAY_MAX_BODY_BYTES", "request body limit, 413 above it (default 10485760)"),
    ("ARCO_GATEWAY_UPSTREAM_TIMEOUT_SEC", "deadline of each api call (default 30)"),
    ("ARCO_LOG_LEVEL", "DEBUG, INFO (default), WARNING, ERROR"),
    ("ARCO_LOG_FORMAT", "json (default) or console"),
    ("ARCO_READY_FILE", "write the bound address here as JSON once listening"),
    ("ARCO_SHUTDOWN_GRACE_SEC", "seconds in-flight requests get on SIGTERM (default 5)"),
)


@dataclasses.dataclass(frozen=True)
class JwtConfig:
    """How user bearer tokens are verified."""

    secret: str = secret_field()
    public_key_pem: str = ""
    issuer: str = ""
    audience: str = ""
    tenant_claim: str = "tenant"
    workspace_claim: str = "workspace"
    user_claim: str = "sub"
    groups_claim: str = "groups"
    leeway_sec: float = 60.0

    @property
    def algorithm(self) -> str:
        return "HS256" if self.secret else "RS256"

    @property
    def key(self) -> str:
        return self.secret or self.public_key_pem

    @property
    def configured(self) -> bool:
        return bool(self.secret or self.public_key_pem)


@dataclasses.dataclass(frozen=True)
class RateLimitConfig:
    """Per-tenant GCRA limits; a stricter class applies to browser URL minting."""

    per_minute: int = 500
    burst: int = 50
    url_per_minute: int = 100
    url_burst: int = 25
    max_keys: int = 10_000

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0


@dataclasses.dataclass(frozen=True)
class GatewayConfig:
    listen_address: str = "127.0.0.1:8080"
    api_address: str = "127.0.0.1:50051"
    log_level: str = "INFO"
    log_format: str = "json"
    ready_file: str = ""
    shutdown_grace_sec: float = 5.0
    environment: str = "dev"
    dev_auth: bool = False
    jwt: JwtConfig = dataclasses.field(default_factory=JwtConfig)
    identity_secret: str = secret_field()
    identity_ttl_sec: float = 60.0
    rate_limit: RateLimitConfig = dataclasses.field(default_factory=RateLimitConfig)
    max_body_bytes: int = 10 * 1024 * 1024
    upstream_timeout_sec: float = 30.0

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ConfigError(
                f"ARCO_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, "
                f"got {self.environment!r}"
            )
        if self.dev_auth and self.environment != "dev":
            raise ConfigError(
                "ARCO_GATEWAY_DEV_AUTH=true is only allowed with ARCO_ENVIRONMENT=dev"
            )
        if self.jwt.secret and self.jwt.public_key_pem:
            raise ConfigError("configure either ARCO_JWT_SECRET or an RS256 public key, not both")
        if self.environment != "dev":
            missing = [
                name
                for name, value in (
                    ("ARCO_JWT_SECRET or ARCO_JWT_PUBLIC_KEY_*", self.jwt.configured),
                    ("ARCO_JWT_ISSUER", self.jwt.issuer),
                    ("ARCO_JWT_AUDIENCE", self.jwt.audience),
                    ("ARCO_IDENTITY_SECRET", self.identity_secret),
                )
                if not value
            ]
            if missing:
                raise ConfigError(
                    f"ARCO_ENVIRONMENT={self.environment} requires {', '.join(missing)}"
                )
        if self.identity_ttl_sec <= 0:
            raise ConfigError("ARCO_IDENTITY_TTL_SEC must be positive")
        if self.rate_limit.enabled and (
            self.rate_limit.burst < 1
            or self.rate_limit.url_per_minute < 1
            or self.rate_limit.url_burst < 1
        ):
            raise ConfigError("rate limit bursts and the URL rate must be >= 1")

    @property
    def dev(self) -> bool:
        return self.environment == "dev"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GatewayConfig:
        log_format = env_str(env, "ARCO_LOG_FORMAT", "json")
        if log_format not in {"json", "console"}:
            raise ConfigError(f"ARCO_LOG_FORMAT must be json or console, got {log_format!r}")
        pem = env_str(env, "ARCO_JWT_PUBLIC_KEY_PEM").replace("\\n", "\n")
        pem_path = env_str(env, "ARCO_JWT_PUBLIC_KEY_PATH")
        if pem and pem_path:
            raise ConfigError("set ARCO_JWT_PUBLIC_KEY_PEM or ARCO_JWT_PUBLIC_KEY_PATH, not both")
        if pem_path:
            try:
                pem = Path(pem_path).read_text()
            except OSError as exc:
                raise ConfigError(f"ARCO_JWT_PUBLIC_KEY_PATH unreadable: {exc}") from None
        return cls(
            listen_address=env_str(env, "ARCO_GATEWAY_LISTEN_ADDRESS", "127.0.0.1:8080"),
            api_address=env_str(env, "ARCO_API_ADDRESS", "127.0.0.1:50051"),
            log_level=env_str(env, "ARCO_LOG_LEVEL", "INFO"),
            log_format=log_format,
            ready_file=env_str(env, "ARCO_READY_FILE"),
            shutdown_grace_sec=env_float(env, "ARCO_SHUTDOWN_GRACE_SEC", 5.0),
            environment=env_str(env, "ARCO_ENVIRONMENT", "dev").lower(),
            dev_auth=env_bool(env, "ARCO_GATEWAY_DEV_AUTH", False),
            jwt=JwtConfig(
                secret=env_str(env, "ARCO_JWT_SECRET"),
                public_key_pem=pem,
                issuer=env_str(env, "ARCO_JWT_ISSUER"),
                audience=env_str(env, "ARCO_JWT_AUDIENCE"),
                tenant_claim=env_str(env, "ARCO_JWT_TENANT_CLAIM", "tenant"),
                workspace_claim=env_str(env, "ARCO_JWT_WORKSPACE_CLAIM", "workspace"),
                user_claim=env_str(env, "ARCO_JWT_USER_CLAIM", "sub"),
                groups_claim=env_str(env, "ARCO_JWT_GROUPS_CLAIM", "groups"),
                leeway_sec=env_float(env, "ARCO_JWT_LEEWAY_SEC", 60.0),
            ),
            identity_secret=env_str(env, "ARCO_IDENTITY_SECRET"),
            identity_ttl_sec=env_float(env, "ARCO_IDENTITY_TTL_SEC", 60.0),
            rate_limit=RateLimitConfig(
                per_minute=env_int(env, "ARCO_GATEWAY_RATE_LIMIT_PER_MIN", 500),
                burst=env_int(env, "ARCO_GATEWAY_RATE_LIMIT_BURST", 50),
                url_per_minute=env_int(env, "ARCO_GATEWAY_URL_RATE_LIMIT_PER_MIN", 100),
                url_burst=env_int(env, "ARCO_GATEWAY_URL_RATE_LIMIT_BURST", 25),
                max_keys=env_int(env, "ARCO_GATEWAY_RATE_LIMIT_MAX_KEYS", 10_000, minimum=1),
            ),
            max_body_bytes=env_int(env, "ARCO_GATEWAY_MAX_BODY_BYTES", 10 * 1024 * 1024, minimum=1),
            upstream_timeout_sec=env_float(env, "ARCO_GATEWAY_UPSTREAM_TIMEOUT_SEC", 30.0),
        )
