"""From dispatch decisions to WorkerDispatchEnvelopes, through provider adapters.

The dispatcher and the sweeper build one canonical envelope per attempt (with a freshly
minted task token) and hand it to a ``DispatchAdapter``: gRPC push to a worker's
``WorkerService.Dispatch``, HTTP push of the camelCase JSON envelope, or in-memory.
Adapters route by worker queue and report ENQUEUED (accepted), DEDUPLICATED (the
target already had it), QUEUE_FULL or FAILED; only the first two are acknowledged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
from collections.abc import Mapping, Sequence
from typing import Protocol

import grpc
import httpx
import structlog
from arco.orchestration.v1 import worker_protocol_pb2 as worker_pb
from arco.worker.v1 import worker_service_pb2 as wpb
from arco.worker.v1 import worker_service_pb2_grpc as wpb_grpc
from google.protobuf import struct_pb2, timestamp_pb2

from arco_core.ids import callback_task_id
from arco_core.orchestration.controllers import DispatchAction
from arco_core.paths import Scope
from arco_core.tokens import TaskTokenSigner
from arco_core.wire.worker_protocol import to_json
from services.common.config import ConfigError

log = structlog.get_logger(__name__)

DEFAULT_QUEUE = "default-queue"
DISPATCH_SECRET_HEADER = "X-Arco-Dispatch-Secret"


class SendOutcome(enum.Enum):
    ENQUEUED = "enqueued"
    DEDUPLICATED = "deduplicated"
    QUEUE_FULL = "queue_full"
    FAILED = "failed"

    @property
    def acknowledged(self) -> bool:
        return self in (SendOutcome.ENQUEUED, SendOutcome.DEDUPLICATED)


@dataclasses.dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    target: str = ""
    error: str = ""


class DispatchAdapter(Protocol):
    name: str

    async def send(
        self, envelope: worker_pb.WorkerDispatchEnvelope, cloud_task_id: str
    ) -> SendResult: ...

    async def close(self) -> None: ...


class EnvelopeBuilder:
    """Builds the canonical envelope of an attempt with a task-scoped token."""

    def __init__(self, scope: Scope, signer: TaskTokenSigner, callback_base_url: str) -> None:
        self._scope = scope
        self._signer = signer
        self._callback_base_url = callback_base_url.rstrip("/")

    def build(
        self, action: DispatchAction, *, traceparent: str | None = None
    ) -> worker_pb.WorkerDispatchEnvelope:
        task_id = callback_task_id(action.run_id, action.task_key)
        token, expires_ms = self._signer.mint(
            self._scope.tenant_id,
            self._scope.workspace_id,
            task_id,
            action.run_id,
            action.attempt,
            action.attempt_id,
        )
        expires = timestamp_pb2.Timestamp()
        expires.FromMilliseconds(expires_ms)
        envelope = worker_pb.WorkerDispatchEnvelope(
            tenant_id=self._scope.tenant_id,
            workspace_id=self._scope.workspace_id,
            task_id=task_id,
            task_key=action.task_key,
            run_id=action.run_id,
            attempt=action.attempt,
            attempt_id=action.attempt_id,
            dispatch_id=action.dispatch_id,
            worker_queue=action.worker_queue,
            callback_base_url=self._callback_base_url,
            task_token=token,
            token_expires_at=expires,
            payload=struct_pb2.Struct(),
            heartbeat_timeout_sec=action.heartbeat_timeout_sec,
        )
        if action.partition_key is not None:
            envelope.partition_key = action.partition_key
        if traceparent:
            envelope.traceparent = traceparent
        return envelope


def parse_targets(spec: str) -> dict[str, list[str]]:
    """``queue=addr1,addr2;other=addr3`` (a bare list means the default queue)."""
    targets: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        queue, sep, addresses = part.partition("=")
        if not sep:
            queue, addresses = DEFAULT_QUEUE, part
        items = [a.strip() for a in addresses.split(",") if a.strip()]
        if not queue.strip() or not items:
            raise ConfigError(f"invalid worker target spec {part!r}: expected queue=addr,addr")
        targets.setdefault(queue.strip(), []).extend(items)
    return targets


class _Router:
    """Round-robin over a queue's targets; the default queue serves unknown queues."""

    def __init__(self, targets: Mapping[str, Sequence[str]]) -> None:
        self._cycles = {queue: itertools.cycle(list(addrs)) for queue, addrs in targets.items()}
        self._sizes = {queue: len(addrs) for queue, addrs in targets.items()}

    def candidates(self, queue: str) -> list[str]:
        key = queue if queue in self._cycles else DEFAULT_QUEUE
        if key not in self._cycles:
            return []
        cycle = self._cycles[key]
        return [next(cycle) for _ in range(self._sizes[key])]


class GrpcPushAdapter:
    """Pushes envelopes to ``arco.worker.v1.WorkerService/Dispatch``."""

    name = "grpc"

    def __init__(
        self, targets: Mapping[str, Sequence[str]], secret: str, *, timeout_sec: float = 10.0
    ) -> None:
        if not secret:
            raise ConfigError("gRPC dispatch needs ARCO_WORKER_DISPATCH_SECRET")
        self._router = _Router(targets)
        self._timeout = timeout_sec
        # Workers refuse envelopes without the shared dispatch secret.
        self._metadata = ((DISPATCH_SECRET_HEADER.lower(), secret),)
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _stub(self, address: str) -> wpb_grpc.WorkerServiceAsyncStub:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.aio.insecure_channel(address)
        return wpb_grpc.WorkerServiceStub(channel)

    async def send(
        self, envelope: worker_pb.WorkerDispatchEnvelope, cloud_task_id: str
    ) -> SendResult:
        errors = []
        for address in self._router.candidates(envelope.worker_queue):
            try:
                answer = await self._stub(address).Dispatch(
                    wpb.DispatchRequest(envelope=envelope),
                    timeout=self._timeout,
                    metadata=self._metadata,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    return SendResult(SendOutcome.QUEUE_FULL, address, exc.details() or "")
                errors.append(f"{address}: {exc.code().name} {exc.details()}")
                continue  # try the queue's next worker
            if answer.disposition == wpb.DISPATCH_DISPOSITION_ACCEPTED:
                return SendResult(SendOutcome.ENQUEUED, address)
            return SendResult(SendOutcome.DEDUPLICATED, address)
        return SendResult(SendOutcome.FAILED, error="; ".join(errors) or "no worker for queue")

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self._channels.values()))


class HttpPushAdapter:
    """POSTs the camelCase JSON envelope to ``{target}/dispatch`` with the shared secret."""

    name = "http"

    def __init__(
        self, targets: Mapping[str, Sequence[str]], secret: str, *, timeout_sec: float = 10.0
    ) -> None:
        if not secret:
            raise ConfigError("HTTP dispatch needs ARCO_WORKER_DISPATCH_SECRET")
        self._router = _Router(targets)
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=timeout_sec)

    async def send(
        self, envelope: worker_pb.WorkerDispatchEnvelope, cloud_task_id: str
    ) -> SendResult:
        errors = []
        body = to_json(envelope)
        for base in self._router.candidates(envelope.worker_queue):
            try:
                response = await self._client.post(
                    f"{base.rstrip('/')}/dispatch",
                    json=body,
                    headers={
                        DISPATCH_SECRET_HEADER: self._secret,
                        "X-Cloud-Task-Id": cloud_task_id,
                    },
                )
            except httpx.HTTPError as exc:
                errors.append(f"{base}: {exc!r}")
                continue
            if response.status_code < 300:
                return SendResult(SendOutcome.ENQUEUED, base)
            if response.status_code in (409, 503):  # already done / still running there
                return SendResult(SendOutcome.DEDUPLICATED, base)
            if response.status_code == 429:
                return SendResult(SendOutcome.QUEUE_FULL, base, response.text[:200])
            errors.append(f"{base}: HTTP {response.status_code} {response.text[:200]}")
        return SendResult(SendOutcome.FAILED, error="; ".join(errors) or "no worker for queue")

    async def close(self) -> None:
        await self._client.aclose()


class InMemoryAdapter:
    """Keeps envelopes in process (tests, embedded use); dedupes by cloud task id."""

    name = "memory"

    def __init__(self, capacity: int | None = None) -> None:
        self.queue: asyncio.Queue[worker_pb.WorkerDispatchEnvelope] = asyncio.Queue()
        self._seen: set[str] = set()
        self._capacity = capacity

    async def send(
        self, envelope: worker_pb.WorkerDispatchEnvelope, cloud_task_id: str
    ) -> SendResult:
        if cloud_task_id in self._seen:
            return SendResult(SendOutcome.DEDUPLICATED, "memory")
        if self._capacity is not None and self.queue.qsize() >= self._capacity:
            return SendResult(SendOutcome.QUEUE_FULL, "memory")
        self._seen.add(cloud_task_id)
        await self.queue.put(envelope)
        return SendResult(SendOutcome.ENQUEUED, "memory")

    async def close(self) -> None:
        return None


def build_adapter(kind: str, targets_spec: str, secret: str) -> DispatchAdapter:
    if kind == "memory":
        return InMemoryAdapter()
    targets = parse_targets(targets_spec)
    if kind == "grpc":
        return GrpcPushAdapter(targets, secret)
    if kind == "http":
        return HttpPushAdapter(targets, secret)
    raise ConfigError(f"unknown dispatch adapter {kind!r}: use grpc, http or memory")
