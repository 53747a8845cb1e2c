"""DispatcherService: on-demand dispatch passes and status, for one served scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from arco.dispatch.v1 import dispatcher_service_pb2 as pb
from arco.dispatch.v1 import dispatcher_service_pb2_grpc as pb_grpc

from arco_core.paths import Scope
from arco_core.registry import ShardSpec
from services.common.scopes import ServedScopes, request_scope
from services.common.server import RpcContext as Context

if TYPE_CHECKING:
    from services.dispatcher.wiring import DispatchScope


class DispatcherServicer(pb_grpc.DispatcherServiceServicer):
    def __init__(
        self, served: ServedScopes[DispatchScope], default_scope: Scope, shard: ShardSpec
    ) -> None:
        self._served = served
        self._default_scope = default_scope
        self._shard = shard

    async def RunDispatch(
        self, request: pb.RunDispatchRequest, context: Context
    ) -> pb.RunDispatchResponse:
        scope = request_scope(request, self._default_scope, self._shard)
        async with self._served.use(scope) as parts:
            summary = await parts.loop.run_pass()
        send = summary.send
        return pb.RunDispatchResponse(
            ready_dispatch_emitted=summary.ready_dispatch_emitted,
            dispatch_actions=send.attempted,
            dispatch_enqueued=send.enqueued,
            dispatch_deduplicated=send.deduplicated,
            dispatch_failed=send.failed,
            errors=[pb.DispatchError(kind=k, id=i, message=m) for k, i, m in send.errors],
            manifest_seq=summary.manifest_seq,
        )

    async def GetDispatcherStatus(
        self, request: pb.GetDispatcherStatusRequest, context: Context
    ) -> pb.GetDispatcherStatusResponse:
        scope = request_scope(request, self._default_scope, self._shard)
        async with self._served.use(scope) as parts:
            return pb.GetDispatcherStatusResponse(
                adapter=parts.sender.adapter_name,
                last_seen_manifest_seq=parts.loop.last_seq,
                passes=parts.loop.passes,
                envelopes_sent=parts.loop.sent,
            )
