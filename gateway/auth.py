"""Who is calling: a verified user JWT, or (explicit dev posture only) dev headers.

Tenant and workspace come only from here, never from the URL or body. Task callbacks do
not authenticate at the gateway: their bearer task token is forwarded untouched and the
api validates it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import jwt
import structlog

from gateway.config import GatewayConfig
from gateway.errors import ApiError

log = structlog.get_logger(__name__)

_SCOPE_ID = re.compile(r"^[a-z0-9_-]{1,128}$")
DEV_HEADERS = ("x-tenant-id", "x-workspace-id")
_BEARER = re.compile(r"^Bearer[ \t]+(\S+)[ \t]*$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Caller:
    tenant: str
    workspace: str
    user: str
    groups: tuple[str, ...]
    method: str  # "jwt" or "dev_headers"


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(
        401,
        message,
        code=code,
        headers={"WWW-Authenticate": 'Bearer realm="arco"'},
        callback_error="invalid_token",
    )


def bearer_token(headers: Mapping[str, str]) -> str | None:
    match = _BEARER.match(headers.get("authorization", ""))
    return match.group(1) if match else None


def _scope_id(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if not _SCOPE_ID.fullmatch(value):
        raise ApiError(400, f"{name} must match [a-z0-9_-]+")
    if value != raw:
        log.warning("scope_id_normalized", field=name)
    return value


def _groups(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError("groups claim must be a string or a list of strings")
    return tuple(sorted({item.strip() for item in items if item.strip()}))


class Authenticator:
    """Verifies user credentials according to the gateway's (frozen) configuration."""

    def __init__(self, config: GatewayConfig) -> None:
        self._config = config
        self._jwt = config.jwt

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        has_dev_headers = any(name in headers for name in DEV_HEADERS)
        if self._config.dev_auth and has_dev_headers:
            return self._dev_headers(headers)
        if has_dev_headers:
            log.warning("auth_denied", reason="dev_headers_outside_dev")
            raise _unauthorized(
                "UNAUTHORIZED",
                "X-Tenant-Id/X-Workspace-Id headers are only accepted in dev posture",
            )
        token = bearer_token(headers)
        if token is None:
            log.info("auth_denied", reason="missing_token")
            raise _unauthorized("MISSING_AUTH", "Authorization header required")
        try:
            return self._verify(token)
        except ApiError:
            raise
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            # The reason goes to the log, never to the client.
            log.info("auth_denied", reason="invalid_token", detail=type(exc).__name__)
            raise _unauthorized("INVALID_TOKEN", "Invalid bearer token") from None

    def _dev_headers(self, headers: Mapping[str, str]) -> Caller:
        tenant = headers.get("x-tenant-id", "")
        workspace = headers.get("x-workspace-id", "")
        if not tenant:
            raise _unauthorized("UNAUTHORIZED", "missing X-Tenant-Id header (dev posture)")
        if not workspace:
            raise _unauthorized("UNAUTHORIZED", "missing X-Workspace-Id header (dev posture)")
        groups = _groups([g for g in headers.get("x-groups", "").split(",") if g.strip()])
        return Caller(
            tenant=_scope_id("tenant", tenant),
            workspace=_scope_id("workspace", workspace),
            user=headers.get("x-user-id", ""),
            groups=groups,
            method="dev_headers",
        )

    def _verify(self, token: str) -> Caller:
        cfg = self._jwt
        if not cfg.configured:
            log.warning("auth_denied", reason="no_jwt_key_configured")
            raise _unauthorized("INVALID_TOKEN", "Invalid bearer token")
        required = ["exp"]
        if cfg.issuer:
            required.append("iss")
        if cfg.audience:
            required.append("aud")
        claims: dict[str, Any] = jwt.decode(
            token,
            cfg.key,
            algorithms=[cfg.algorithm],
            audience=cfg.audience or None,
            issuer=cfg.issuer or None,
            leeway=cfg.leeway_sec,
            options={"require": required, "verify_aud": bool(cfg.audience)},
        )
        tenant = claims.get(cfg.tenant_claim)
        workspace = claims.get(cfg.workspace_claim)
        user = claims.get(cfg.user_claim)
        for name, value in (("tenant", tenant), ("workspace", workspace), ("user", user)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"claim for {name} missing or not a string")
        assert isinstance(tenant, str) and isinstance(workspace, str) and isinstance(user, str)
        return Caller(
            tenant=_scope_id("tenant", tenant),
            workspace=_scope_id("workspace", workspace),
            user=user,
            groups=_groups(claims.get(cfg.groups_claim)),
            method="jwt",
        )
