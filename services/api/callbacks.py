"""TaskCallbackService of the api: worker lifecycle callbacks.

Thin over :mod:`arco_core.orchestration.callbacks`: read the bearer task token from the
``authorization`` metadata, decode it, validate the callback against the current
orchestration projection, append the one resulting event and have the compactor fold it
(read-your-writes), answer with the server receipt time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import structlog
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from arco.orchestration.v1 import task_callback_service_pb2_grpc as callback_grpc
from google.protobuf import timestamp_pb2

from arco_core.errors import Unauthenticated
from arco_core.orchestration.callbacks import CallbackHandler
from arco_core.orchestration.fold import FoldState
from arco_core.tokens import TaskClaims
from services.api.deps import ApiDeps
from services.common.interceptors import REQUEST_ID_KEY
from services.common.server import RpcContext as Context

log = structlog.get_logger(__name__)

AUTHORIZATION_KEY = "authorization"
_BEARER = re.compile(r"^Bearer[ \t]+(\S+)[ \t]*$", re.IGNORECASE)


def bearer_token(metadata: Iterable[tuple[str, Any]] | None) -> str | None:
    """The token of an ``authorization: Bearer <token>`` metadata entry, if any."""
    for key, value in metadata or ():
        if key.lower() == AUTHORIZATION_KEY and isinstance(value, str):
            match = _BEARER.match(value)
            if match:
                return match.group(1)
    return None


def _timestamp(epoch_ms: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(epoch_ms)
    return stamp


def _request_id(context: Context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str):
            return value
    return ""


class TaskCallbackServicer(callback_grpc.TaskCallbackServiceServicer):
    def __init__(self, deps: ApiDeps) -> None:
        self._deps = deps
        self._handler = CallbackHandler(deps.scope.tenant_id, deps.scope.workspace_id)
        if deps.task_tokens.short_key:
            log.warning(
                "task_token_secret_short",
                hint="ARCO_TASK_TOKEN_SECRET is below 32 bytes (RFC 7518 3.2); use a longer one",
            )

    def _claims(self, context: Context) -> TaskClaims:
        token = bearer_token(context.invocation_metadata())
        if token is None:
            raise Unauthenticated("missing bearer token", reason="invalid_token")
        return self._deps.task_tokens.decode(token)

    async def _state(self) -> FoldState:
        snapshot = await self._deps.orchestration.reader.refresh()
        state: FoldState = snapshot.state
        return state

    async def TaskStarted(
        self, request: callback_pb.TaskStartedRequest, context: Context
    ) -> callback_pb.TaskStartedResponse:
        received_ms = self._deps.clock.now_ms()
        claims = self._claims(context)
        result = self._handler.started(await self._state(), claims, request, now_ms=received_ms)
        await self._deps.orchestration.publish([result.event], request_id=_request_id(context))
        return callback_pb.TaskStartedResponse(
            acknowledged=result.acknowledged, server_time=_timestamp(result.server_time_ms)
        )

    async def TaskHeartbeat(
        self, request: callback_pb.TaskHeartbeatRequest, context: Context
    ) -> callback_pb.TaskHeartbeatResponse:
        received_ms = self._deps.clock.now_ms()
        claims = self._claims(context)
        result = self._handler.heartbeat(await self._state(), claims, request, now_ms=received_ms)
        await self._deps.orchestration.publish([result.event], request_id=_request_id(context))
        response = callback_pb.TaskHeartbeatResponse(
            acknowledged=result.acknowledged,
            should_cancel=result.should_cancel,
            server_time=_timestamp(result.server_time_ms),
        )
        if result.cancel_reason is not None:
            response.cancel_reason = result.cancel_reason
        return response

    async def TaskCompleted(
        self, request: callback_pb.TaskCompletedRequest, context: Context
    ) -> callback_pb.TaskCompletedResponse:
        received_ms = self._deps.clock.now_ms()
        claims = self._claims(context)
        result = self._handler.completed(await self._state(), claims, request, now_ms=received_ms)
        await self._deps.orchestration.publish([result.event], request_id=_request_id(context))
        return callback_pb.TaskCompletedResponse(
            acknowledged=result.acknowledged,
            final_state=result.final_state,
            server_time=_timestamp(result.server_time_ms),
        )
