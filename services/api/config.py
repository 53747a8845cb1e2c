"""The api service's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from arco_core.orchestration.deployments import DEFAULT_MANIFEST_LIMITS, ManifestLimits
from arco_runtime.settings import (
    BROWSER_URL_BASE,
    BROWSER_URL_SECRET,
    IDENTITY_SECRET,
    ConfigError,
    Setting,
    integer,
    setting_field,
)
from arco_runtime.user_auth import GROUP_ROLES, JWT_SETTINGS, GroupRoles, JwtConfig
from services.api.callback_limits import CALLBACK_LIMIT_SETTINGS, CallbackLimitsConfig
from services.api.query_config import QUERY_SETTINGS, QueryConfig
from services.common.config import (
    CATALOG_COMPACTOR_ADDRESS,
    ORCH_COMPACTOR_ADDRESS,
    TASK_TOKEN_AUDIENCE,
    TASK_TOKEN_ISSUER,
    TASK_TOKEN_LEEWAY_SEC,
    TASK_TOKEN_SECRET,
    TASK_TOKEN_TTL_SEC,
    CommonConfig,
)
from services.common.scopes import LRU_SETTINGS, ScopeLimits

LOG_MAX_BYTES = integer(
    "ARCO_LOG_MAX_BYTES",
    "largest stored task log, bytes (each stream of a longer upload is cut to its share, marked)",
    2 * 1024 * 1024,
    minimum=1,
)

MANIFEST_MAX_BYTES = integer(
    "ARCO_MANIFEST_MAX_BYTES",
    "largest manifest a deploy accepts, bytes of its canonical JSON (413 payload_too_large; "
    "keep it below ARCO_GATEWAY_MAX_BODY_BYTES)",
    DEFAULT_MANIFEST_LIMITS.max_bytes,
    minimum=1,
)
MANIFEST_MAX_ASSETS = integer(
    "ARCO_MANIFEST_MAX_ASSETS",
    "most assets one manifest may declare (400 too_many_assets)",
    DEFAULT_MANIFEST_LIMITS.max_assets,
    minimum=1,
)

SERVICE_SETTINGS: tuple[Setting[Any], ...] = (
    ORCH_COMPACTOR_ADDRESS,
    CATALOG_COMPACTOR_ADDRESS,
    TASK_TOKEN_SECRET,
    TASK_TOKEN_ISSUER,
    TASK_TOKEN_AUDIENCE,
    TASK_TOKEN_TTL_SEC,
    TASK_TOKEN_LEEWAY_SEC,
    IDENTITY_SECRET,
    BROWSER_URL_SECRET,
    BROWSER_URL_BASE,
    LOG_MAX_BYTES,
    MANIFEST_MAX_BYTES,
    MANIFEST_MAX_ASSETS,
    # Users calling the api directly (Envoy's gRPC route, SDKs, tools) present a JWT that
    # the api verifies with the gateway's rows; their groups map to roles.
    *JWT_SETTINGS,
    GROUP_ROLES,
    *QUERY_SETTINGS,
    *CALLBACK_LIMIT_SETTINGS,
    *LRU_SETTINGS,
)


@dataclasses.dataclass(frozen=True)
class ApiConfig:
    common: CommonConfig
    orch_compactor_address: str
    catalog_compactor_address: str
    task_token_issuer: str
    task_token_audience: str
    log_max_bytes: int
    browser_url_base: str
    task_token_secret: str = setting_field(TASK_TOKEN_SECRET)
    identity_secret: str = setting_field(IDENTITY_SECRET)
    browser_url_secret: str = setting_field(BROWSER_URL_SECRET)
    jwt: JwtConfig = dataclasses.field(default_factory=JwtConfig)
    group_roles: GroupRoles = dataclasses.field(default_factory=GroupRoles)
    # Heartbeat answers renew task tokens with this lifetime (ARCO_TASK_TOKEN_TTL_SEC).
    task_token_ttl_sec: int = TASK_TOKEN_TTL_SEC.default
    task_token_leeway_sec: int = TASK_TOKEN_LEEWAY_SEC.default
    query: QueryConfig = dataclasses.field(default_factory=QueryConfig)
    callback_limits: CallbackLimitsConfig = dataclasses.field(default_factory=CallbackLimitsConfig)
    # The bounded LRU of open scopes (services.common.scopes).
    scope_limits: ScopeLimits = dataclasses.field(
        default_factory=lambda: ScopeLimits(max_open=64, idle_sec=600.0)
    )
    manifest_limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS

    @property
    def dev(self) -> bool:
        return self.common.dev

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiConfig:
        config = cls(
            common=CommonConfig.from_env(env, service="api", default_listen="127.0.0.1:50051"),
            orch_compactor_address=ORCH_COMPACTOR_ADDRESS.read(env),
            catalog_compactor_address=CATALOG_COMPACTOR_ADDRESS.read(env),
            scope_limits=ScopeLimits.from_env(env),
            task_token_issuer=TASK_TOKEN_ISSUER.read(env),
            task_token_audience=TASK_TOKEN_AUDIENCE.read(env),
            log_max_bytes=LOG_MAX_BYTES.read(env),
            task_token_secret=TASK_TOKEN_SECRET.read(env),
            identity_secret=IDENTITY_SECRET.read(env),
            browser_url_secret=BROWSER_URL_SECRET.read(env),
            browser_url_base=BROWSER_URL_BASE.read(env),
            jwt=JwtConfig.from_env(env),
            group_roles=GroupRoles.from_env(env),
            task_token_ttl_sec=TASK_TOKEN_TTL_SEC.read(env),
            task_token_leeway_sec=TASK_TOKEN_LEEWAY_SEC.read(env),
            query=QueryConfig.from_env(env),
            callback_limits=CallbackLimitsConfig.from_env(env),
            manifest_limits=ManifestLimits(
                max_bytes=MANIFEST_MAX_BYTES.read(env), max_assets=MANIFEST_MAX_ASSETS.read(env)
            ),
        )
        if not config.task_token_secret:
            raise ConfigError("ARCO_TASK_TOKEN_SECRET is required (worker callbacks are signed)")
        secrets = [
            (TASK_TOKEN_SECRET, config.task_token_secret),
            (IDENTITY_SECRET, config.identity_secret),
        ]
        if config.common.storage_url.startswith("file://"):
            secrets.append((BROWSER_URL_SECRET, config.browser_url_secret))
        config.common.require_secrets(*secrets)
        # Without a JWT key direct user calls are refused; with one, outside dev, issuer,
        # audience and a 32-byte HS256 key are required, as at the gateway.
        config.jwt.check(config.common.environment, key_required=False)
        return config
