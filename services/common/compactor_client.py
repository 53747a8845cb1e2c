"""Client of the compactor service: idempotent calls retried on transient failures.

Folding the same ledger paths twice is a no-op, so CompactEvents and SyncCompact may be
retried; retries stop at one overall deadline and only on UNAVAILABLE or
DEADLINE_EXCEEDED (the compactor restarting or briefly overloaded).
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from arco_runtime.rpc import MAX_MESSAGE_BYTES
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
        self, address: str, *, deadline_sec: float = 60.0, attempt_timeout_sec: float = 30.0
    ) -> None:
        self.address = address
        self._channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        self._stub = pb_grpc.CompactorServiceStub(self._channel)
        self._deadline = deadline_sec
        self._attempt_timeout = attempt_timeout_sec

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_delay(self._deadline),
            wait=wait_exponential_jitter(multiplier=0.05, max=1.0, jitter=0.05),
            reraise=True,
        )

    async def compact(
        self, paths: Sequence[str], *, request_id: str = ""
    ) -> pb.CompactEventsResponse:
        request = pb.CompactEventsRequest(event_paths=list(paths), request_id=request_id)
        try:
            async for attempt in self._retrying():
                with attempt:
                    response: pb.CompactEventsResponse = await self._stub.CompactEvents(
                        request, timeout=self._attempt_timeout, wait_for_ready=True
                    )
                    return response
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        raise AssertionError("unreachable")

    async def sync_compact(
        self, paths: Sequence[str], *, fencing_token: int, lock_name: str, request_id: str = ""
    ) -> pb.SyncCompactResponse:
        request = pb.SyncCompactRequest(
            event_paths=list(paths),
            fencing_token=fencing_token,
            lock_name=lock_name,
            request_id=request_id,
        )
        try:
            async for attempt in self._retrying():
                with attempt:
                    response: pb.SyncCompactResponse = await self._stub.SyncCompact(
                        request, timeout=self._attempt_timeout, wait_for_ready=True
                    )
                    return response
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        raise AssertionError("unreachable")

    def watch(
        self, after_seq: int = 0
    ) -> grpc.aio.UnaryStreamCall[pb.WatchHeadRequest, pb.WatchHeadResponse]:
        return self._stub.WatchHead(pb.WatchHeadRequest(after_seq=after_seq))

    async def close(self) -> None:
        await self._channel.close()
