"""CompactorService: the only writer of state/, snapshots/ and manifests/."""

from __future__ import annotations

from collections.abc import AsyncIterator

from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc
from google.protobuf import timestamp_pb2

from arco_core.clock import parse_rfc3339_ms
from arco_core.compaction.engine import Compactor
from arco_core.compaction.group import GroupCommitter
from arco_core.errors import InvalidArgument
from arco_core.published import Snapshot
from services.common.server import RpcContext as Context

WATCH_KEEPALIVE_SEC = 15.0


def _timestamp(rfc3339: str | None) -> timestamp_pb2.Timestamp | None:
    if not rfc3339:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(parse_rfc3339_ms(rfc3339))
    return stamp


def _head_fields(domain: str, snapshot: Snapshot) -> dict[str, object]:
    head = snapshot.head
    return {
        "domain": domain,
        "manifest_seq": snapshot.seq or 0,
        "manifest_path": head.path if head else "",
        "published_at": _timestamp(head.published_at if head else None),
        "last_event_id": (snapshot.manifest.last_event_id or "") if snapshot.manifest else "",
    }


class CompactorServicer(pb_grpc.CompactorServiceServicer):
    def __init__(self, engine: Compactor, committer: GroupCommitter) -> None:
        self._engine = engine
        self._committer = committer

    async def CompactEvents(
        self, request: pb.CompactEventsRequest, context: Context
    ) -> pb.CompactEventsResponse:
        if not request.event_paths:
            raise InvalidArgument("event_paths must not be empty")
        result = await self._committer.submit(list(request.event_paths))
        return pb.CompactEventsResponse(
            manifest_seq=result.commit.seq or 0,
            events_applied=result.applied,
            events_skipped=result.skipped,
            group_size=result.group_size,
        )

    async def SyncCompact(
        self, request: pb.SyncCompactRequest, context: Context
    ) -> pb.SyncCompactResponse:
        if not request.event_paths:
            raise InvalidArgument("event_paths must not be empty")
        if request.lock_name != self._engine.domain:
            raise InvalidArgument(
                f"this compactor serves the {self._engine.domain} domain; "
                f"lock {request.lock_name!r} does not fence it",
                reason="unsupported_domain",
            )
        if request.fencing_token < 1:
            raise InvalidArgument("fencing_token is required (the held lock's epoch)")
        result = await self._engine.compact(
            list(request.event_paths),
            fencing_token=request.fencing_token,
            lock_name=request.lock_name,
        )
        return pb.SyncCompactResponse(
            manifest_seq=result.seq or 0,
            events_applied=result.applied,
            events_skipped=result.skipped,
        )

    async def WatchHead(
        self, request: pb.WatchHeadRequest, context: Context
    ) -> AsyncIterator[pb.WatchHeadResponse]:
        after: int | None = request.after_seq if request.after_seq else None
        current = self._engine.snapshot
        if current.seq is not None and (after is None or current.seq > after):
            yield pb.WatchHeadResponse(**_head_fields(self._engine.domain, current))  # type: ignore[arg-type]
            after = current.seq
        while True:
            snapshot = await self._engine.wait_for_head(after, timeout=WATCH_KEEPALIVE_SEC)
            if snapshot.seq is not None and (after is None or snapshot.seq > after):
                yield pb.WatchHeadResponse(**_head_fields(self._engine.domain, snapshot))  # type: ignore[arg-type]
                after = snapshot.seq

    async def GetHead(self, request: pb.GetHeadRequest, context: Context) -> pb.GetHeadResponse:
        return pb.GetHeadResponse(**_head_fields(self._engine.domain, self._engine.snapshot))  # type: ignore[arg-type]

    async def Rebuild(self, request: pb.RebuildRequest, context: Context) -> pb.RebuildResponse:
        if not request.event_paths:
            raise InvalidArgument("event_paths must not be empty")
        result = await self._engine.rebuild(list(request.event_paths))
        return pb.RebuildResponse(
            manifest_seq=result.seq or 0,
            events_applied=result.applied,
            events_skipped=result.skipped,
        )
