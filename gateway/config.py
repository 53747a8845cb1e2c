"""The gateway's configuration (frozen, from ARCO_* environment variables)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from arco_runtime.posture import check_binds
from arco_runtime.settings import (
    ENVIRONMENT,
    ENVIRONMENTS,
    IDENTITY_SECRET,
    LOG_FORMAT,
    LOG_LEVEL,
    READY_FILE,
    SHUTDOWN_GRACE_SEC,
    ConfigError,
    flag,
    integer,
    number,
    read_log_format,
    setting_field,
    text,
)
from arco_runtime.tls import TLS_SETTINGS, TlsConfig

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
JWT_SECRET = text(
    "ARCO_JWT_SECRET",
    "HS256 key of user bearer tokens (outside dev this or an RS256 public key is required)",
    secret=True,
)
JWT_PUBLIC_KEY_PEM = text(
    "ARCO_JWT_PUBLIC_KEY_PEM", "RS256 public key, PEM text (\\n escapes allowed)"
)
JWT_PUBLIC_KEY_PATH = text(
    "ARCO_JWT_PUBLIC_KEY_PATH", "RS256 public key, PEM file (exclusive with the other keys)"
)
JWT_ISSUER = text("ARCO_JWT_ISSUER", "required iss of user tokens", required="outside dev")
JWT_AUDIENCE = text("ARCO_JWT_AUDIENCE", "required aud of user tokens", required="outside dev")
JWT_TENANT_CLAIM = text("ARCO_JWT_TENANT_CLAIM", "claim holding the tenant id", "tenant")
JWT_WORKSPACE_CLAIM = text(
    "ARCO_JWT_WORKSPACE_CLAIM", "claim holding the workspace id", "workspace"
)
JWT_USER_CLAIM = text(
    "ARCO_JWT_USER_CLAIM", "claim holding the user id (every token must carry it)", "sub"
)
JWT_GROUPS_CLAIM = text(
    "ARCO_JWT_GROUPS_CLAIM", "claim holding the groups, a string or a list", "groups"
)
JWT_LEEWAY_SEC = number("ARCO_JWT_LEEWAY_SEC", "clock skew allowed on exp/nbf, seconds", 60.0)
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

SERVICE_SETTINGS = (
    LISTEN_ADDRESS,
    API_ADDRESS,
    ENVIRONMENT,
    DEV_AUTH,
    JWT_SECRET,
    JWT_PUBLIC_KEY_PEM,
    JWT_PUBLIC_KEY_PATH,
    JWT_ISSUER,
    JWT_AUDIENCE,
    JWT_TENANT_CLAIM,
    JWT_WORKSPACE_CLAIM,
    JWT_USER_CLAIM,
    JWT_GROUPS_CLAIM,
    JWT_LEEWAY_SEC,
    IDENTITY_SECRET,
    IDENTITY_TTL_SEC,
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
class JwtConfig:
    """How user bearer tokens are verified."""

    secret: str = setting_field(JWT_SECRET)
    public_key_pem: str = ""  # ARCO_JWT_PUBLIC_KEY_PEM, or the file ARCO_JWT_PUBLIC_KEY_PATH
    issuer: str = setting_field(JWT_ISSUER)
    audience: str = setting_field(JWT_AUDIENCE)
    tenant_claim: str = setting_field(JWT_TENANT_CLAIM)
    workspace_claim: str = setting_field(JWT_WORKSPACE_CLAIM)
    user_claim: str = setting_field(JWT_USER_CLAIM)
    groups_claim: str = setting_field(JWT_GROUPS_CLAIM)
    leeway_sec: float = setting_field(JWT_LEEWAY_SEC)

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
    rate_limit: RateLimitConfig = dataclasses.field(default_factory=RateLimitConfig)
    max_body_bytes: int = setting_field(MAX_BODY_BYTES)
    upstream_timeout_sec: float = setting_field(UPSTREAM_TIMEOUT_SEC)
    # Mutual TLS of the channel to the api (the gateway's certificate names role gateway).
    tls: TlsConfig = dataclasses.field(default_factory=TlsConfig)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ConfigError(
                f"ARCO_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, "
                f"got {self.environment!r}"
            )
        check_binds(self.environment, self.tls, [(LISTEN_ADDRESS.name, self.listen_address)])
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
        log_format = read_log_format(env)
        pem = JWT_PUBLIC_KEY_PEM.read(env).replace("\\n", "\n")
        pem_path = JWT_PUBLIC_KEY_PATH.read(env)
        if pem and pem_path:
            raise ConfigError("set ARCO_JWT_PUBLIC_KEY_PEM or ARCO_JWT_PUBLIC_KEY_PATH, not both")
        if pem_path:
            try:
                pem = Path(pem_path).read_text()
            except OSError as exc:
                raise ConfigError(f"ARCO_JWT_PUBLIC_KEY_PATH unreadable: {exc}") from None
        return cls(
            listen_address=LISTEN_ADDRESS.read(env),
            api_address=API_ADDRESS.read(env),
            log_level=LOG_LEVEL.read(env),
            log_format=log_format,
            ready_file=READY_FILE.read(env),
            shutdown_grace_sec=SHUTDOWN_GRACE_SEC.read(env),
            environment=ENVIRONMENT.read(env).lower(),
            dev_auth=DEV_AUTH.read(env),
            jwt=JwtConfig(
                secret=JWT_SECRET.read(env),
                public_key_pem=pem,
                issuer=JWT_ISSUER.read(env),
                audience=JWT_AUDIENCE.read(env),
                tenant_claim=JWT_TENANT_CLAIM.read(env),
                workspace_claim=JWT_WORKSPACE_CLAIM.read(env),
                user_claim=JWT_USER_CLAIM.read(env),
                groups_claim=JWT_GROUPS_CLAIM.read(env),
                leeway_sec=JWT_LEEWAY_SEC.read(env),
            ),
            identity_secret=IDENTITY_SECRET.read(env),
            identity_ttl_sec=IDENTITY_TTL_SEC.read(env),
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
