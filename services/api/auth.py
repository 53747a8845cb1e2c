"""Who is calling: the one place the api authenticates its users.

:class:`AuthInterceptor` runs before every RPC of every service on the api's server,
except the services in :data:`OPEN_SERVICES`, so a new RPC is authenticated without
anyone remembering to. It verifies the gateway-signed identity (:class:`CallerAuth`),
refuses a request whose ``workspace_id`` names another workspace, and leaves the caller
in a context variable that servicers read with :func:`caller`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Final

import grpc
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from google.protobuf.message import Message
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

from arco_core.clock import Clock
from arco_core.errors import InternalError, NotFound, Unauthenticated
from arco_core.paths import Scope
from arco_runtime.identity import IDENTITY_KEY, Identity, IdentityError, verify_identity
from services.common.server import RpcContext

# Services that do not take a user identity: worker callbacks judge their bearer task
# token themselves; health and reflection answer anyone who can reach the port.
OPEN_SERVICES: Final = frozenset(
    {
        callback_pb.DESCRIPTOR.services_by_name["TaskCallbackService"].full_name,
        health.SERVICE_NAME,
        reflection.SERVICE_NAME,
    }
)

# The caller of the RPC running in this context; each RPC runs in its own task, so the
# value ends with the RPC.
_CALLER: ContextVar[Identity] = ContextVar("arco_api_caller")


def caller() -> Identity:
    """The authenticated caller of the current RPC."""
    try:
        return _CALLER.get()
    except LookupError:
        raise InternalError(
            "no authenticated caller for this RPC", reason="caller_not_authenticated"
        ) from None


class CallerAuth:
    """Verifies the identity metadata the gateway forwards.

    In dev posture a call without identity metadata acts as this api's own scope (local
    tools talk gRPC directly); a present but bad identity is always refused. Outside dev
    every call must carry a valid signature.
    """

    def __init__(self, scope: Scope, secret: str, clock: Clock, *, dev: bool) -> None:
        self._scope = scope
        self._secret = secret
        self._clock = clock
        self._dev = dev

    def identity(self, context: RpcContext) -> Identity:
        metadata = [(k, v) for k, v in (context.invocation_metadata() or ())]
        if self._dev and not any(key == IDENTITY_KEY for key, _ in metadata):
            return Identity(self._scope.tenant_id, self._scope.workspace_id, user="dev")
        try:
            identity = verify_identity(metadata, self._secret, self._clock.now_ms() / 1000)
        except IdentityError as exc:
            raise Unauthenticated(
                f"invalid caller identity: {exc}", reason="invalid_identity"
            ) from None
        if (identity.tenant, identity.workspace) != (
            self._scope.tenant_id,
            self._scope.workspace_id,
        ):
            # Another scope's caller reached this api: reveal nothing about this one.
            raise NotFound("workspace not found", reason="workspace_not_found")
        return identity

    def check_workspace(self, identity: Identity, workspace_id: str) -> None:
        """A path workspace that is not the caller's is NOT_FOUND, never a hint."""
        if workspace_id and workspace_id != identity.workspace:
            raise NotFound("workspace not found", reason="workspace_not_found")


# A grpc.aio behaviour: a coroutine (unary) or async generator (streaming) function of
# the request and the context. The grpc stubs describe the sync ones, hence the Anys.
_Behaviour = Callable[[Any, Any], Any]


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every RPC whose service is not in ``open_services``.

    Installed inside the server's error-mapping interceptor, so a refusal becomes its
    status (UNAUTHENTICATED, or NOT_FOUND for another scope) and its one log line.
    """

    def __init__(self, auth: CallerAuth, open_services: frozenset[str] = OPEN_SERVICES) -> None:
        self._auth = auth
        self._open = open_services

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or method.lstrip("/").partition("/")[0] in self._open:
            return handler
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(self._unary(handler.unary_unary), **codec)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(handler.unary_stream), **codec
            )
        # The api has no client-streaming RPC; one added later stays closed until guarded.
        return None

    def _admit(self, request: object, context: RpcContext) -> None:
        identity = self._auth.identity(context)
        # A request that names a workspace must name the caller's (the orchestration paths).
        field = (
            request.DESCRIPTOR.fields_by_name.get("workspace_id")
            if isinstance(request, Message)
            else None
        )
        if field is not None:
            self._auth.check_workspace(identity, getattr(request, field.name))
        _CALLER.set(identity)

    def _unary(self, inner: _Behaviour) -> Callable[[Any, RpcContext], Awaitable[Any]]:
        async def guarded(request: Any, context: RpcContext) -> Any:
            self._admit(request, context)
            return await inner(request, context)

        return guarded

    def _streaming(self, inner: _Behaviour) -> Callable[[Any, RpcContext], AsyncIterator[Any]]:
        async def guarded(request: Any, context: RpcContext) -> AsyncIterator[Any]:
            self._admit(request, context)
            async for response in inner(request, context):
                yield response

        return guarded
