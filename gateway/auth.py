"""Who is calling: a verified user JWT, or (explicit dev posture only) dev headers.

Tenant and workspace come only from here, never from the URL or body. The JWT is verified
by :mod:`arco_runtime.user_auth`, the same code and settings the api uses for direct gRPC
callers. Task callbacks do not authenticate at the gateway: their bearer task token is
forwarded untouched and the api validates it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import structlog

from arco_runtime import user_auth
from arco_runtime.user_auth import ScopeIdError, TokenError, groups_of, user_id, verify_jwt
from gateway.config import GatewayConfig
from gateway.errors import ApiError

log = structlog.get_logger(__name__)

DEV_HEADERS = ("x-tenant-id", "x-workspace-id")


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
    return user_auth.bearer_token(headers.get("authorization", ""))


def _scope_id(name: str, raw: str) -> str:
    try:
        value = user_auth.scope_id(name, raw)
    except ScopeIdError as exc:
        raise ApiError(400, str(exc)) from None
    if value != raw:
        log.warning("scope_id_normalized", field=name)
    return value


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
            user = verify_jwt(token, self._jwt)
        except TokenError as exc:
            # The reason goes to the log, never to the client.
            if exc.reason == "no_key":
                log.warning("auth_denied", reason="no_jwt_key_configured")
            else:
                log.info("auth_denied", reason=exc.reason, detail=str(exc))
            raise _unauthorized("INVALID_TOKEN", "Invalid bearer token") from None
        except ScopeIdError as exc:
            raise ApiError(400, str(exc)) from None
        return Caller(user.tenant, user.workspace, user.user, user.groups, method="jwt")

    def _dev_headers(self, headers: Mapping[str, str]) -> Caller:
        tenant = headers.get("x-tenant-id", "")
        workspace = headers.get("x-workspace-id", "")
        if not tenant:
            raise _unauthorized("UNAUTHORIZED", "missing X-Tenant-Id header (dev posture)")
        if not workspace:
            raise _unauthorized("UNAUTHORIZED", "missing X-Workspace-Id header (dev posture)")
        try:
            groups = groups_of([g for g in headers.get("x-groups", "").split(",") if g.strip()])
            user = user_id(headers.get("x-user-id", ""))
        except ValueError as exc:
            raise _unauthorized("UNAUTHORIZED", f"{exc} (dev headers)") from None
        return Caller(
            tenant=_scope_id("tenant", tenant),
            workspace=_scope_id("workspace", workspace),
            user=user,
            groups=groups,
            method="dev_headers",
        )
