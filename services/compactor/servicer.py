"""CompactorService: the only writer of state/, snapshots/ and manifests/.

Every RPC names its scope; the engine of that scope comes from the process's open
scopes (opened on first use), after the scope is checked against this replica's shard.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol, TypeVar

from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc

from arco_core.clock import parse_rfc3339_ms
from arco_core.compaction.engine import Compactor, Rebuilt
from arco_core.compaction.group import GroupCommitter
from arco_core.compaction.peers import PeerHeads
from arco_core.compaction.verify import Verification
from arco_core.errors import InvalidArgument
from arco_core.paths import Scope
from arco_core.published import Snapshot
from arco_core.registry import ShardSpec
from services.common.rpc_context import timestamp_from_ms
from services.common.runner import BackgroundLoop
from services.common.scopes import OpenScopes, request_scope
from services.common.server import RpcContext as Context

WATCH_KEEPALIVE_SEC = 15.0


# WatchHead and GetHead answer with the same head fields.
_Head = TypeVar("_Head", pb.WatchHeadResponse, pb.GetHeadResponse)


def _head(message: type[_Head], domain: str, snapshot: Snapshot[Any]) -> _Head:
    head = snapshot.head
    return message(
        domain=domain,
        manifest_seq=snapshot.seq or 0,
        manifest_path=head.path if head else "",
        published_at=(
            timestamp_from_ms(parse_rfc3339_ms(head.published_at))
            if head and head.published_at
            else None
        ),
        last_event_id=(snapshot.manifest.last_event_id or "") if snapshot.manifest else "",
    )


@dataclasses.dataclass
class ScopeEngine:
    """One scope's engine, its group committer and the loop adopting a peer's heads."""

    engine: Compactor[Any]
    committer: GroupCommitter
    peer_heads: PeerHeads

    @property
    def loops(self) -> Sequence[BackgroundLoop]:
        return (self.committer, self.peer_heads)

    async def close(self) -> None:
        return None


class _Scoped(Protocol):
    tenant_id: str
    workspace_id: str


class CompactorServicer(pb_grpc.CompactorServiceServicer):
    def __init__(
        self,
        scopes: OpenScopes[ScopeEngine],
        *,
        domain: str,
        shard: ShardSpec,
        default_scope: Scope,
    ) -> None:
        self._scopes = scopes
        self._domain = domain
        self._shard = shard
        self._default_scope = default_scope

    def _scope(self, request: _Scoped) -> Scope:
        return request_scope(request, self._default_scope, self._shard)

    async def CompactEvents(
        self, request: pb.CompactEventsRequest, context: Context
    ) -> pb.CompactEventsResponse:
        if not request.event_paths:
            raise InvalidArgument("event_paths must not be empty")
        async with self._scopes.use(self._scope(request)) as parts:
            result = await parts.committer.submit(list(request.event_paths))
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
        if request.lock_name != self._domain:
            raise InvalidArgument(
                f"this compactor serves the {self._domain} domain; "
                f"lock {request.lock_name!r} does not fence it",
                reason="unsupported_domain",
            )
        if request.fencing_token < 1:
            raise InvalidArgument("fencing_token is required (the held lock's epoch)")
        async with self._scopes.use(self._scope(request)) as parts:
            result = await parts.engine.compact(
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
        # The stream holds its scope open: a watched scope is never idle.
        async with self._scopes.use(self._scope(request)) as parts:
            engine = parts.engine
            current = engine.snapshot
            if current.seq is not None and (after is None or current.seq > after):
                yield _head(pb.WatchHeadResponse, self._domain, current)
                after = current.seq
            while True:
                snapshot = await engine.wait_for_head(after, timeout=WATCH_KEEPALIVE_SEC)
                if snapshot.seq is not None and (after is None or snapshot.seq > after):
                    yield _head(pb.WatchHeadResponse, self._domain, snapshot)
                    after = snapshot.seq

    async def GetHead(self, request: pb.GetHeadRequest, context: Context) -> pb.GetHeadResponse:
        async with self._scopes.use(self._scope(request)) as parts:
            return _head(pb.GetHeadResponse, self._domain, parts.engine.snapshot)

    async def Rebuild(self, request: pb.RebuildRequest, context: Context) -> pb.RebuildResponse:
        if request.event_paths and not request.partial:
            raise InvalidArgument(
                "Rebuild replays the whole ledger and takes no event_paths; naming paths "
                "publishes a projection of only those events: set partial to mean it",
                reason="partial_rebuild_not_requested",
            )
        if request.partial and not request.event_paths:
            raise InvalidArgument(
                "a partial rebuild needs the event_paths to replay",
                reason="partial_rebuild_without_paths",
            )
        async with self._scopes.use(self._scope(request)) as parts:
            result = await parts.engine.rebuild(
                list(request.event_paths) if request.partial else None
            )
        return _rebuild_response(result)

    async def VerifyProjection(
        self, request: pb.VerifyProjectionRequest, context: Context
    ) -> pb.VerifyProjectionResponse:
        async with self._scopes.use(self._scope(request)) as parts:
            return _verify_response(await parts.engine.verify())


# -- converters ---------------------------------------------------------------------------


def _rebuild_response(result: Rebuilt) -> pb.RebuildResponse:
    return pb.RebuildResponse(
        manifest_seq=result.commit.seq or 0,
        events_applied=result.commit.applied,
        events_skipped=result.commit.skipped,
        paths_read=result.paths_read,
        tables=[pb.TableRows(table=name, rows=rows) for name, rows in result.table_rows.items()],
        whole=result.whole,
    )


def _verify_response(result: Verification) -> pb.VerifyProjectionResponse:
    return pb.VerifyProjectionResponse(
        matches=result.matches,
        manifest_seq=result.seq or 0,
        events_replayed=result.events_replayed,
        tables=[
            pb.TableComparison(
                table=diff.table,
                published_rows=diff.published_rows,
                replayed_rows=diff.replayed_rows,
                matches=diff.matches,
                only_published=diff.only_published,
                only_replayed=diff.only_replayed,
                differing=diff.differing,
                sample_keys=list(diff.sample_keys),
            )
            for diff in result.tables
        ],
        published_last_event_id=result.published_last_event_id or "",
        ledger_last_event_id=result.ledger_last_event_id or "",
    )
