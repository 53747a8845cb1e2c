"""Client of the compactor service: idempotent calls retried on transient failures.

Folding the same ledger paths twice is a no-op, so CompactEvents and SyncCompact may be
retried; retries stop at one overall deadline (each attempt gets the time left, at most
``attempt_timeout_sec``) and only on UNAVAILABLE or DEADLINE_EXCEEDED (the compactor
restarting or briefly overloaded).
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc

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


class CompactorClient:
    """One long-lived channel to one compactor; call ``close()`` when done."""

    def __init__(
        self,
        address: str,
        tls: TlsConfig,
        *,
        deadline_sec: float = 60.0,
        attempt_timeout_sec: float = 30.0,
    ) -> None:
        self.address = address
        self._channel = aio_channel(address, tls, CHANNEL_OPTIONS)
        self._stub = pb_grpc.CompactorServiceStub(self._channel)
        self._retry = RetryPolicy(
            initial_backoff_sec=0.05,
            max_backoff_sec=1.0,
            jitter_sec=0.05,
            deadline_sec=deadline_sec,
            attempt_timeout_sec=attempt_timeout_sec,
        )

    async def compact(
        self, paths: Sequence[str], *, request_id: str = ""
    ) -> pb.CompactEventsResponse:
        request = pb.CompactEventsRequest(event_paths=list(paths), request_id=request_id)

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
        return self._stub.WatchHead(pb.WatchHeadRequest(after_seq=after_seq))

    async def close(self) -> None:
        await self._channel.close()
