"""Client of the compactor service: idempotent calls retried on transient failures.

Folding the same ledger paths twice is a no-op, so CompactEvents and SyncCompact may be
retried; retries stop at one overall deadline (each attempt gets the time left, at most
``attempt_timeout_sec``) and only on UNAVAILABLE or DEADLINE_EXCEEDED (the compactor
restarting or briefly overloaded).

A compactor serves many scopes and every request names one: a :class:`CompactorClient`
is bound to its scope. :class:`CompactorShards` holds one channel per compactor shard of
a domain (the comma-separated address setting, indexed by shard) and hands out the
client of a scope's shard.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc

from arco_core.paths import Scope
from arco_core.registry import shard_of
from arco_runtime.retry import RetryPolicy
from arco_runtime.rpc import MAX_MESSAGE_BYTES
from arco_runtime.tls import TlsConfig, aio_channel
from services.common.status import from_rpc_error

TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in TRANSIENT


def parse_addresses(value: str) -> tuple[str, ...]:
    """The compactor addresses of one domain, by shard (one address: unsharded)."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


class CompactorClient:
    """Calls for one scope (None: the compactor's dev default) over a long-lived channel;
    call ``close()`` on the client that opened the channel."""

    def __init__(
        self,
        address: str,
        tls: TlsConfig,
        *,
        scope: Scope | None = None,
        deadline_sec: float = 60.0,
        attempt_timeout_sec: float = 30.0,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self.address = address
        self.scope = scope
        self._tls = tls
        self._owns_channel = channel is None
        self._channel = channel or aio_channel(address, tls, CHANNEL_OPTIONS)
        self._stub = pb_grpc.CompactorServiceStub(self._channel)
        self._deadline_sec = deadline_sec
        self._attempt_timeout_sec = attempt_timeout_sec
        self._retry = RetryPolicy(
            initial_backoff_sec=0.05,
            max_backoff_sec=1.0,
            jitter_sec=0.05,
            deadline_sec=deadline_sec,
            attempt_timeout_sec=attempt_timeout_sec,
        )

    def for_scope(self, scope: Scope) -> CompactorClient:
        """A client of ``scope`` on this client's channel (closing it closes nothing)."""
        return CompactorClient(
            self.address,
            self._tls,
            scope=scope,
            deadline_sec=self._deadline_sec,
            attempt_timeout_sec=self._attempt_timeout_sec,
            channel=self._channel,
        )

    def _scope_fields(self) -> dict[str, str]:
        if self.scope is None:
            return {}
        return {"tenant_id": self.scope.tenant_id, "workspace_id": self.scope.workspace_id}

    async def compact(
        self, paths: Sequence[str], *, request_id: str = ""
    ) -> pb.CompactEventsResponse:
        request = pb.CompactEventsRequest(
            event_paths=list(paths), request_id=request_id, **self._scope_fields()
        )

        async def attempt(timeout: float) -> pb.CompactEventsResponse:
            response: pb.CompactEventsResponse = await self._stub.CompactEvents(
                request, timeout=timeout, wait_for_ready=True
            )
            return response

        try:
            return await self._retry.call_async(attempt, retry_if=_transient)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None

    async def sync_compact(
        self, paths: Sequence[str], *, fencing_token: int, lock_name: str, request_id: str = ""
    ) -> pb.SyncCompactResponse:
        request = pb.SyncCompactRequest(
            event_paths=list(paths),
            fencing_token=fencing_token,
            lock_name=lock_name,
            request_id=request_id,
            **self._scope_fields(),
        )

        async def attempt(timeout: float) -> pb.SyncCompactResponse:
            response: pb.SyncCompactResponse = await self._stub.SyncCompact(
                request, timeout=timeout, wait_for_ready=True
            )
            return response

        try:
            return await self._retry.call_async(attempt, retry_if=_transient)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None

    def watch(
        self, after_seq: int = 0
    ) -> grpc.aio.UnaryStreamCall[pb.WatchHeadRequest, pb.WatchHeadResponse]:
        return self._stub.WatchHead(
            pb.WatchHeadRequest(after_seq=after_seq, **self._scope_fields())
        )

    async def close(self) -> None:
        if self._owns_channel:
            await self._channel.close()


class CompactorShards:
    """The compactors of one domain, one channel per shard; ``close()`` closes them."""

    def __init__(self, addresses: Sequence[str], tls: TlsConfig) -> None:
        if not addresses:
            raise ValueError("at least one compactor address is needed")
        self._shards = [CompactorClient(address, tls) for address in addresses]

    def __len__(self) -> int:
        return len(self._shards)

    def client(self, scope: Scope) -> CompactorClient:
        """The client of the compactor shard that serves ``scope``."""
        return self._shards[shard_of(scope, len(self._shards))].for_scope(scope)

    async def close(self) -> None:
        for shard in self._shards:
            await shard.close()
