"""CompactorService: the only writer of state/, snapshots/ and manifests/."""

from __future__ import annotations

from collections.abc import AsyncIterator

from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc

from services.common.pending import not_implemented
from services.common.server import RpcContext as Context

_MISSING = "the ledger fold, Parquet projections and the manifest commit protocol"


class CompactorServicer(pb_grpc.CompactorServiceServicer):
    async def CompactEvents(
        self, request: pb.CompactEventsRequest, context: Context
    ) -> pb.CompactEventsResponse:
        not_implemented("CompactorService.CompactEvents", _MISSING)

    async def SyncCompact(
        self, request: pb.SyncCompactRequest, context: Context
    ) -> pb.SyncCompactResponse:
        not_implemented("CompactorService.SyncCompact", _MISSING)

    async def WatchHead(
        self, request: pb.WatchHeadRequest, context: Context
    ) -> AsyncIterator[pb.WatchHeadResponse]:
        not_implemented("CompactorService.WatchHead", _MISSING)
        yield  # pragma: no cover - makes this an async generator

    async def GetHead(self, request: pb.GetHeadRequest, context: Context) -> pb.GetHeadResponse:
        not_implemented("CompactorService.GetHead", _MISSING)

    async def Rebuild(self, request: pb.RebuildRequest, context: Context) -> pb.RebuildResponse:
        not_implemented("CompactorService.Rebuild", _MISSING)
