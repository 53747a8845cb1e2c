"""TaskCallbackService of the api."""

from __future__ import annotations

from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from arco.orchestration.v1 import task_callback_service_pb2_grpc as callback_grpc

from services.api.deps import ApiDeps
from services.common.pending import not_implemented
from services.common.server import RpcContext as Context

_CALLBACKS = "worker callback validation against the orchestration projection"


class TaskCallbackServicer(callback_grpc.TaskCallbackServiceServicer):
    def __init__(self, deps: ApiDeps) -> None:
        self._deps = deps

    async def TaskStarted(
        self, request: callback_pb.TaskStartedRequest, context: Context
    ) -> callback_pb.TaskStartedResponse:
        not_implemented("TaskCallbackService.TaskStarted", _CALLBACKS)

    async def TaskHeartbeat(
        self, request: callback_pb.TaskHeartbeatRequest, context: Context
    ) -> callback_pb.TaskHeartbeatResponse:
        not_implemented("TaskCallbackService.TaskHeartbeat", _CALLBACKS)

    async def TaskCompleted(
        self, request: callback_pb.TaskCompletedRequest, context: Context
    ) -> callback_pb.TaskCompletedResponse:
        not_implemented("TaskCallbackService.TaskCompleted", _CALLBACKS)
