"""DispatcherService: on-demand dispatch passes and status."""

from __future__ import annotations

from arco.dispatch.v1 import dispatcher_service_pb2 as pb
from arco.dispatch.v1 import dispatcher_service_pb2_grpc as pb_grpc

from services.common.server import RpcContext as Context
from services.dispatcher.loop import DispatchLoop


class DispatcherServicer(pb_grpc.DispatcherServiceServicer):
    def __init__(self, loop: DispatchLoop, adapter_name: str) -> None:
        self._loop = loop
        self._adapter_name = adapter_name

    async def RunDispatch(
        self, request: pb.RunDispatchRequest, context: Context
    ) -> pb.RunDispatchResponse:
        summary = await self._loop.run_pass()
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
        return pb.GetDispatcherStatusResponse(
            adapter=self._adapter_name,
            last_seen_manifest_seq=self._loop.last_seq,
            passes=self._loop.passes,
            envelopes_sent=self._loop.sent,
        )
