"""Who is calling, and may they: the one place the api authenticates and authorizes users.

:class:`AuthInterceptor` runs before every RPC of every service on the api's server,
except those whose matrix row grants no user role (:func:`takes_user`), so a new RPC
is covered without anyone remembering to. :class:`CallerAuth` takes the user from one of two credentials:

* the gateway's signed forwarded identity (:mod:`arco_runtime.identity`), accepted only
  from a caller whose verified mesh certificate names role ``gateway``;
* a bearer JWT in the ``authorization`` metadata (the Envoy edge, SDKs, operator tools),
  verified with the gateway's own code and settings (:mod:`arco_runtime.user_auth`).

Callers of any other role must present a JWT; in dev posture a call with neither acts
in the dev default scope as admin. The verified identity is the only source of the
call's scope: a request whose ``workspace_id`` names another workspace, or an identity
whose workspace the registry does not hold, is NOT_FOUND (checked before the role, so
such a caller learns nothing else). The user's groups map to a role
(``ARCO_AUTH_GROUP_ROLES``) that must reach the role the authorization matrix names for
the RPC (:func:`arco_runtime.authz.grant_for`), else PERMISSION_DENIED naming the user,
their roles and the role needed. The caller stays in a context variable that servicers
read with :func:`caller`; no servicer parses credentials.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import grpc
import structlog
from google.protobuf.message import Message

from arco_core.clock import Clock
from arco_core.errors import InternalError, PermissionDenied, Unauthenticated
from arco_core.paths import Scope
from arco_core.registry import workspace_not_found
from arco_runtime.authz import UserRole, caller_role, grant_for
from arco_runtime.identity import (
    IDENTITY_KEY,
    SIGNATURE_KEY,
    Identity,
    IdentityError,
    verify_identity,
)
from arco_runtime.rpc import admitting
from arco_runtime.tls import Role
from arco_runtime.user_auth import (
    GroupRoles,
    JwtConfig,
    ScopeIdError,
    TokenError,
    bearer_token,
    describe_roles,
    verify_jwt,
)
from services.common.server import RpcContext

log = structlog.get_logger(__name__)


def takes_user(method: str) -> bool:
    """Whether ``method`` (``/pkg.Service/Method``) takes a user identity: its matrix row
    grants users a role. Worker callbacks and log uploads judge their bearer task token
    themselves; health and reflection answer anyone the matrix lets reach them."""
    grant = grant_for(method)
    return grant is None or grant.user is not None


# The caller of the RPC running in this context; each RPC runs in its own task, so the
# value ends with the RPC.
_CALLER: ContextVar[Identity] = ContextVar("arco_api_caller")
_ROLE: ContextVar[UserRole] = ContextVar("arco_api_user_role")

DEV_USER = "dev"


def caller() -> Identity:
    """The authenticated caller of the current RPC."""
    try:
        return _CALLER.get()
    except LookupError:
        raise InternalError(
            "no authenticated caller for this RPC", reason="caller_not_authenticated"
        ) from None


def caller_scope() -> Scope:
    """The scope of the current RPC: the authenticated caller's tenant and workspace."""
    identity = caller()
    return Scope(identity.tenant, identity.workspace)


# RPCs of the caller's tenant rather than of one workspace: the caller's own workspace
# need not exist yet (an admin creates a tenant's first workspace with one).
TENANT_METHODS = frozenset(
    {
        "/arco.orchestration.v1.OrchestrationService/CreateWorkspace",
        "/arco.orchestration.v1.OrchestrationService/ListWorkspaces",
    }
)


def caller_user_role() -> UserRole:
    """The highest user role of the current RPC's caller (checked against the matrix)."""
    try:
        return _ROLE.get()
    except LookupError:
        raise InternalError(
            "no authenticated caller for this RPC", reason="caller_not_authenticated"
        ) from None


class CallerAuth:
    """Authenticates the user of an RPC and judges their role against the matrix.

    A present but bad credential is always refused, in every posture. Outside dev a call
    must carry one: the gateway's signed identity (from role ``gateway`` only) or a JWT.
    """

    def __init__(
        self,
        default_scope: Scope,
        secret: str,
        clock: Clock,
        *,
        dev: bool,
        jwt: JwtConfig | None = None,
        group_roles: GroupRoles | None = None,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self._dev = dev
        self._jwt = jwt or JwtConfig()
        self._group_roles = group_roles or GroupRoles()
        # Dev posture, no credentials: the dev default scope, as admin (local tools).
        self._dev_caller = Identity(
            default_scope.tenant_id, default_scope.workspace_id, user=DEV_USER
        )

    def identity(self, context: RpcContext) -> Identity:
        """The user of this call; their identity names the call's scope."""
        metadata = [(k, v) for k, v in (context.invocation_metadata() or ())]
        keys = {key.lower() for key, _ in metadata}
        if IDENTITY_KEY in keys or SIGNATURE_KEY in keys:
            identity = self._forwarded(metadata)
        elif "authorization" in keys:
            identity = self._token(metadata)
        elif self._dev:
            return self._dev_caller
        else:
            raise Unauthenticated(
                "credentials required: a bearer JWT in the authorization metadata (or, "
                "from the gateway, its signed identity)",
                reason="missing_credentials",
            )
        return identity

    def _forwarded(self, metadata: list[tuple[str, str | bytes]]) -> Identity:
        peer = caller_role()
        # A plaintext dev mesh has no verified peer at all (loopback only, see posture).
        from_gateway = peer is Role.GATEWAY or (peer is None and self._dev)
        if not from_gateway:
            who = f"role {peer.value}" if peer else "a caller without a mesh certificate"
            log.warning("auth_denied", reason="identity_not_from_gateway", role=peer)
            raise Unauthenticated(
                f"a signed forwarded identity is accepted only from the gateway; {who} "
                "must present the user's bearer JWT",
                reason="identity_not_from_gateway",
            )
        try:
            return verify_identity(metadata, self._secret, self._clock.now_ms() / 1000)
        except IdentityError as exc:
            raise Unauthenticated(
                f"invalid caller identity: {exc}", reason="invalid_identity"
            ) from None

    def _token(self, metadata: list[tuple[str, str | bytes]]) -> Identity:
        values = [value for key, value in metadata if key.lower() == "authorization"]
        raw = values[0] if len(values) == 1 else b""
        token = bearer_token(raw if isinstance(raw, str) else "")
        try:
            if token is None:
                raise TokenError("invalid_token", "authorization is not one Bearer token")
            user = verify_jwt(token, self._jwt)
            return Identity(user.tenant, user.workspace, user.user, user.groups)
        except (TokenError, ScopeIdError, IdentityError) as exc:
            # The reason goes to the log, never to the caller (as at the gateway).
            reason = exc.reason if isinstance(exc, TokenError) else "invalid_claims"
            log.info("auth_denied", reason=reason, detail=str(exc), role=caller_role())
            raise Unauthenticated("invalid bearer token", reason="invalid_token") from None

    def roles(self, identity: Identity) -> tuple[UserRole, ...]:
        """Every user role the caller holds, lowest first (the dev default caller: admin)."""
        if identity is self._dev_caller:
            return (UserRole.ADMIN,)
        return self._group_roles.roles_of(identity.groups, dev=self._dev)

    def authorize(self, identity: Identity, method: str) -> UserRole:
        """The caller's role if it reaches what the matrix asks of ``method``."""
        grant = grant_for(method)
        roles = self.roles(identity)
        needed = grant.user if grant is not None else None
        name = method.lstrip("/")
        if needed is None:
            raise PermissionDenied(f"{name} is not open to users", reason="not_a_user_rpc")
        if not roles or roles[-1] < needed:
            groups = ", ".join(identity.groups) or "none"
            log.info(
                "rpc_refused",
                why="user_role",
                user=identity.user,
                roles=describe_roles(roles),
                needed=needed.label,
            )
            raise PermissionDenied(
                f"user {identity.user or '(anonymous)'!r} has roles [{describe_roles(roles)}] "
                f"(groups: {groups}); {name} needs role {needed.label}",
                reason="insufficient_role",
                metadata={"required_role": needed.label, "roles": describe_roles(roles)},
            )
        return roles[-1]

    def check_workspace(self, identity: Identity, workspace_id: str) -> None:
        """A path workspace that is not the caller's is NOT_FOUND, never a hint."""
        if workspace_id and workspace_id != identity.workspace:
            raise workspace_not_found()


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates and authorizes every RPC that takes a user (:func:`takes_user`).

    Installed inside the server's error-mapping interceptor and the mesh authorization
    interceptor (which leaves the caller's certificate role in
    :func:`arco_runtime.authz.caller_role`), so a refusal becomes its status
    (UNAUTHENTICATED, NOT_FOUND for another scope, PERMISSION_DENIED for a role too low)
    and its one log line.
    """

    def __init__(self, auth: CallerAuth, require_scope: Callable[[Scope], Awaitable[None]]) -> None:
        self._auth = auth
        # NOT_FOUND workspace_not_found for a scope the registry does not hold.
        self._require_scope = require_scope

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or not takes_user(method):
            return handler
        if handler.stream_unary is not None or handler.stream_stream is not None:
            # The api has no client-streaming RPC; one added later stays closed until
            # someone decides how its requests are checked.
            return None

        async def admit(request: Any, context: RpcContext) -> None:
            await self._admit(request, context, method)

        return admitting(handler, admit)

    async def _admit(self, request: object, context: RpcContext, method: str) -> None:
        identity = self._auth.identity(context)
        # A request that names a workspace must name the caller's (the orchestration paths).
        field = (
            request.DESCRIPTOR.fields_by_name.get("workspace_id")
            if isinstance(request, Message)
            else None
        )
        if field is not None:
            self._auth.check_workspace(identity, getattr(request, field.name))
        if method not in TENANT_METHODS:
            await self._require_scope(Scope(identity.tenant, identity.workspace))
        # Scope first: another scope's caller learns nothing, not even the roles policy.
        role = self._auth.authorize(identity, method)
        _CALLER.set(identity)
        _ROLE.set(role)
