"""SweeperService: on-demand anti-entropy sweeps."""

from __future__ import annotations

from arco.sweeper.v1 import sweeper_service_pb2 as pb
from arco.sweeper.v1 import sweeper_service_pb2_grpc as pb_grpc

from services.common.pending import not_implemented
from services.common.server import RpcContext as Context


class SweeperServicer(pb_grpc.SweeperServiceServicer):
    async def RunSweep(self, request: pb.RunSweepRequest, context: Context) -> pb.RunSweepResponse:
        not_implemented("SweeperService.RunSweep", "anti-entropy repairs over the projection")
