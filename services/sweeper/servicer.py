"""SweeperService: on-demand anti-entropy sweeps."""

from __future__ import annotations

from arco.sweeper.v1 import sweeper_service_pb2 as pb
from arco.sweeper.v1 import sweeper_service_pb2_grpc as pb_grpc

from services.common.server import RpcContext as Context
from services.sweeper.loop import SweepLoop


class SweeperServicer(pb_grpc.SweeperServiceServicer):
    def __init__(self, loop: SweepLoop) -> None:
        self._loop = loop

    async def RunSweep(self, request: pb.RunSweepRequest, context: Context) -> pb.RunSweepResponse:
        summary = await self._loop.sweep(dry_run=request.dry_run)
        send = summary.redispatch
        return pb.RunSweepResponse(
            repairs_created=summary.repairs_created,
            redispatch_attempted=send.attempted,
            redispatch_enqueued=send.enqueued,
            redispatch_deduplicated=send.deduplicated,
            redispatch_failed=send.failed,
            tasks_force_failed=summary.tasks_force_failed,
            skipped_due_to_lag=summary.skipped_due_to_lag,
            errors=[pb.SweepError(kind=k, id=i, message=m) for k, i, m in send.errors],
            manifest_seq=summary.manifest_seq,
        )
