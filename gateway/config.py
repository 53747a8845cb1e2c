"""The gateway's configuration (frozen, from ARCO_* environment variables)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from arco_runtime.posture import check_binds, check_environment, check_secrets
from arco_runtime.settings import (
    BROWSER_URL_SECRET,
    ENVIRONMENT,
    IDENTITY_SECRET,
    LOG_FORMAT,
    LOG_LEVEL,
    READY_FILE,
    SHUTDOWN_GRACE_SEC,
    ConfigError,
    Setting,
    flag,
    integer,
    number,
    read_log_format,
    setting_field,
    text,
)
from arco_runtime.tls import TLS_SETTINGS, TlsConfig
from arco_runtime.user_auth import JWT_SETTINGS, JwtConfig  # the api reads the same rows

LISTEN_ADDRESS = text(
    "ARCO_GATEWAY_LISTEN_ADDRESS", "HTTP listen host:port (port 0 picks one)", "127.0.0.1:8080"
)
API_ADDRESS = text("ARCO_API_ADDRESS", "api gRPC host:port", "127.0.0.1:50051")
DEV_AUTH = flag(
    "ARCO_GATEWAY_DEV_AUTH",
    "accept X-Tenant-Id/X-Workspace-Id (+ X-User-Id, X-Groups) headers instead of a JWT; "
    "refused unless ARCO_ENVIRONMENT=dev",
    False,
)
IDENTITY_TTL_SEC = number(
    "ARCO_IDENTITY_TTL_SEC", "lifetime of a forwarded identity signature, seconds", 60.0
)
RATE_LIMIT_PER_MIN = integer(
    "ARCO_GATEWAY_RATE_LIMIT_PER_MIN", "requests per minute per tenant (0 turns limiting off)", 500
)
RATE_LIMIT_BURST = integer("ARCO_GATEWAY_RATE_LIMIT_BURST", "burst per tenant", 50)
URL_RATE_LIMIT_PER_MIN = integer(
    "ARCO_GATEWAY_URL_RATE_LIMIT_PER_MIN", "POST /browser/urls mints per minute per tenant", 100
)
URL_RATE_LIMIT_BURST = integer(
    "ARCO_GATEWAY_URL_RATE_LIMIT_BURST", "POST /browser/urls burst per tenant", 25
)
RATE_LIMIT_MAX_KEYS = integer(
    "ARCO_GATEWAY_RATE_LIMIT_MAX_KEYS", "tenants tracked before LRU eviction", 10_000, minimum=1
)
MAX_BODY_BYTES = integer(
    "ARCO_GATEWAY_MAX_BODY_BYTES",
    "request body limit in bytes; larger bodies get 413",
    10 * 1024 * 1024,
    minimum=1,
)
UPSTREAM_TIMEOUT_SEC = number(
    "ARCO_GATEWAY_UPSTREAM_TIMEOUT_SEC", "deadline of each api call, seconds", 30.0
)

SERVICE_SETTINGS: tuple[Setting[Any], ...] = (
    LISTEN_ADDRESS,
    API_ADDRESS,
    ENVIRONMENT,
    DEV_AUTH,
    *JWT_SETTINGS,
    IDENTITY_SECRET,
    IDENTITY_TTL_SEC,
    BROWSER_URL_SECRET,
    RATE_LIMIT_PER_MIN,
    RATE_LIMIT_BURST,
    URL_RATE_LIMIT_PER_MIN,
    URL_RATE_LIMIT_BURST,
    RATE_LIMIT_MAX_KEYS,
    MAX_BODY_BYTES,
    UPSTREAM_TIMEOUT_SEC,
    *TLS_SETTINGS,
    LOG_LEVEL,
    LOG_FORMAT,
    READY_FILE,
    SHUTDOWN_GRACE_SEC,
)


@dataclasses.dataclass(frozen=True)
class RateLimitConfig:
    """Per-tenant GCRA limits; a stricter class applies to browser URL minting."""

    per_minute: int = setting_field(RATE_LIMIT_PER_MIN)
    burst: int = setting_field(RATE_LIMIT_BURST)
    url_per_minute: int = setting_field(URL_RATE_LIMIT_PER_MIN)
    url_burst: int = setting_field(URL_RATE_LIMIT_BURST)
    max_keys: int = setting_field(RATE_LIMIT_MAX_KEYS)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0


@dataclasses.dataclass(frozen=True)
class GatewayConfig:
    listen_address: str = setting_field(LISTEN_ADDRESS)
    api_address: str = setting_field(API_ADDRESS)
    log_level: str = setting_field(LOG_LEVEL)
    log_format: str = setting_field(LOG_FORMAT)
    ready_file: str = setting_field(READY_FILE)
    shutdown_grace_sec: float = setting_field(SHUTDOWN_GRACE_SEC)
    environment: str = setting_field(ENVIRONMENT)
    dev_auth: bool = setting_field(DEV_AUTH)
    jwt: JwtConfig = dataclasses.field(default_factory=JwtConfig)
    identity_secret: str = setting_field(IDENTITY_SECRET)
    identity_ttl_sec: float = setting_field(IDENTITY_TTL_SEC)
    # The key of the /files URLs the api signs for a local store (gateway/signed_files.py).
    browser_url_secret: str = setting_field(BROWSER_URL_SECRET)
    rate_limit: RateLimitConfig = dataclasses.field(default_factory=RateLimitConfig)
    max_body_bytes: int = setting_field(MAX_BODY_BYTES)
    upstream_timeout_sec: float = setting_field(UPSTREAM_TIMEOUT_SEC)
    # Mutual TLS of the channel to the api (the gateway's certificate names role gateway).
    tls: TlsConfig = dataclasses.field(default_factory=TlsConfig)

    def __post_init__(self) -> None:
        check_environment(self.environment)
        check_binds(self.environment, self.tls, [(LISTEN_ADDRESS.name, self.listen_address)])
        if self.dev_auth and self.environment != "dev":
            raise ConfigError(
                "ARCO_GATEWAY_DEV_AUTH=true is only allowed with ARCO_ENVIRONMENT=dev"
            )
        if self.jwt.configured and not self.identity_secret:
            # Every posture: the api would see users the gateway verified as anonymous.
            raise ConfigError(
                f"a JWT key is configured but {IDENTITY_SECRET.name} is not: the gateway "
                "cannot forward the users it verifies to the api"
            )
        self.jwt.check(self.environment, key_required=True)
        secrets = [(IDENTITY_SECRET, self.identity_secret)]
        if self.browser_url_secret:
            secrets.append((BROWSER_URL_SECRET, self.browser_url_secret))
        check_secrets(self.environment, secrets)
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
        log_format = read_log_format(env)
        return cls(
            listen_address=LISTEN_ADDRESS.read(env),
            api_address=API_ADDRESS.read(env),
            log_level=LOG_LEVEL.read(env),
            log_format=log_format,
            ready_file=READY_FILE.read(env),
            shutdown_grace_sec=SHUTDOWN_GRACE_SEC.read(env),
            environment=check_environment(ENVIRONMENT.read(env).lower()),
            dev_auth=DEV_AUTH.read(env),
            jwt=JwtConfig.from_env(env),
            identity_secret=IDENTITY_SECRET.read(env),
            identity_ttl_sec=IDENTITY_TTL_SEC.read(env),
            browser_url_secret=BROWSER_URL_SECRET.read(env),
            rate_limit=RateLimitConfig(
                per_minute=RATE_LIMIT_PER_MIN.read(env),
                burst=RATE_LIMIT_BURST.read(env),
                url_per_minute=URL_RATE_LIMIT_PER_MIN.read(env),
                url_burst=URL_RATE_LIMIT_BURST.read(env),
                max_keys=RATE_LIMIT_MAX_KEYS.read(env),
            ),
            max_body_bytes=MAX_BODY_BYTES.read(env),
            upstream_timeout_sec=UPSTREAM_TIMEOUT_SEC.read(env),
            tls=TlsConfig.from_env(env),
        )
