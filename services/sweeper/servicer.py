"""SweeperService: on-demand anti-entropy sweeps of one served scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from arco.sweeper.v1 import sweeper_service_pb2 as pb
from arco.sweeper.v1 import sweeper_service_pb2_grpc as pb_grpc

from arco_core.paths import Scope
from arco_core.registry import ShardSpec
from services.common.scopes import ServedScopes, request_scope
from services.common.server import RpcContext as Context

if TYPE_CHECKING:
    from services.sweeper.wiring import SweepScope


class SweeperServicer(pb_grpc.SweeperServiceServicer):
    def __init__(
        self, served: ServedScopes[SweepScope], default_scope: Scope, shard: ShardSpec
    ) -> None:
        self._served = served
        self._default_scope = default_scope
        self._shard = shard

    async def RunSweep(self, request: pb.RunSweepRequest, context: Context) -> pb.RunSweepResponse:
        scope = request_scope(request, self._default_scope, self._shard)
        async with self._served.use(scope) as parts:
            summary = await parts.loop.sweep(dry_run=request.dry_run)
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
