"""DispatcherService: on-demand dispatch passes and status."""

from __future__ import annotations

from arco.dispatch.v1 import dispatcher_service_pb2 as pb
from arco.dispatch.v1 import dispatcher_service_pb2_grpc as pb_grpc

from services.common.pending import not_implemented
from services.common.server import RpcContext as Context

_MISSING = "ready-dispatch and the outbox-to-envelope adapters"


class DispatcherServicer(pb_grpc.DispatcherServiceServicer):
    async def RunDispatch(
        self, request: pb.RunDispatchRequest, context: Context
    ) -> pb.RunDispatchResponse:
        not_implemented("DispatcherService.RunDispatch", _MISSING)

    async def GetDispatcherStatus(
        self, request: pb.GetDispatcherStatusRequest, context: Context
    ) -> pb.GetDispatcherStatusResponse:
        not_implemented("DispatcherService.GetDispatcherStatus", _MISSING)
