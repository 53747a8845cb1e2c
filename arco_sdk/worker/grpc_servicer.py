"""The worker's own gRPC endpoint (arco.worker.v1.WorkerService)."""

from __future__ import annotations

from typing import Any

import grpc
from arco.worker.v1 import worker_service_pb2 as pb
from arco.worker.v1 import worker_service_pb2_grpc as pb_grpc


class WorkerServicer(pb_grpc.WorkerServiceServicer):
    async def Dispatch(
        self, request: pb.DispatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.DispatchResponse:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            "WorkerService.Dispatch is not implemented yet: the worker runtime that executes "
            "assets from envelopes",
        )
