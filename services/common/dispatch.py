"""From dispatch decisions to WorkerDispatchEnvelopes, through provider adapters.

The dispatcher and the sweeper build one canonical envelope per attempt (with a freshly
minted task token) and hand it to a ``DispatchAdapter``: gRPC push to a worker's
``WorkerService.Dispatch``, HTTP push of the camelCase JSON envelope, a Google Cloud Tasks
HTTP task per envelope (``services.common.cloud_tasks``), or in-memory.
Adapters route by worker queue and report ENQUEUED (accepted), DEDUPLICATED (the
target already had it), QUEUE_FULL or FAILED; only the first two are acknowledged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import grpc
import httpx
import structlog
from arco.orchestration.v1 import worker_protocol_pb2 as worker_pb
from arco.worker.v1 import worker_service_pb2 as wpb
from arco.worker.v1 import worker_service_pb2_grpc as wpb_grpc
from google.protobuf import struct_pb2

from arco_core.automation.sensor_polls import SensorDispatch, sensor_run_scope
from arco_core.ids import callback_task_id
from arco_core.orchestration.decisions import DispatchAction
from arco_core.orchestration.state import DEFAULT_WORKER_QUEUE
from arco_core.paths import Scope
from arco_core.tokens import TaskTokenSigner
from arco_core.wire.worker_protocol import to_json
from arco_runtime.settings import ConfigError, number, setting_field, text
from arco_runtime.tls import TlsConfig, aio_channel
from services.common.rpc_context import timestamp_from_ms

if TYPE_CHECKING:
    from services.common.cloud_tasks import CloudTasksAdapter

log = structlog.get_logger(__name__)

DEFAULT_QUEUE = DEFAULT_WORKER_QUEUE
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
            token_expires_at=timestamp_from_ms(expires_ms),
            payload=struct_pb2.Struct(),
            heartbeat_timeout_sec=action.heartbeat_timeout_sec,
        )
        if action.partition_key is not None:
            envelope.partition_key = action.partition_key
        if traceparent:
            envelope.traceparent = traceparent
        return envelope

    def build_sensor_evaluation(self, item: SensorDispatch) -> worker_pb.WorkerDispatchEnvelope:
        """A sensor evaluation's envelope: its token binds the sensor (as the run), the
        evaluation id (as the attempt id) and the state version it starts from."""
        run_scope = sensor_run_scope(item.sensor_id)
        attempt = item.expected_state_version + 1
        token, expires_ms = self._signer.mint(
            self._scope.tenant_id,
            self._scope.workspace_id,
            item.task_id,
            run_scope,
            attempt,
            item.eval_id,
        )
        evaluation = worker_pb.SensorEvaluation(
            sensor_id=item.sensor_id,
            eval_id=item.eval_id,
            expected_state_version=item.expected_state_version,
        )
        if item.cursor is not None:
            evaluation.cursor = item.cursor
        return worker_pb.WorkerDispatchEnvelope(
            tenant_id=self._scope.tenant_id,
            workspace_id=self._scope.workspace_id,
            task_id=item.task_id,
            task_key=item.eval_id,
            run_id=run_scope,
            attempt=attempt,
            attempt_id=item.eval_id,
            dispatch_id=item.eval_id,
            worker_queue=item.worker_queue,
            callback_base_url=self._callback_base_url,
            task_token=token,
            token_expires_at=timestamp_from_ms(expires_ms),
            payload=struct_pb2.Struct(),
            sensor_evaluation=evaluation,
        )


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


_WITH_CLOUD_TASKS = "with ARCO_DISPATCH_ADAPTER=cloud_tasks"
CLOUD_TASKS_PROJECT = text(
    "ARCO_CLOUD_TASKS_PROJECT", "cloud_tasks adapter: GCP project id", required=_WITH_CLOUD_TASKS
)
CLOUD_TASKS_LOCATION = text(
    "ARCO_CLOUD_TASKS_LOCATION",
    "cloud_tasks adapter: queue location (region)",
    required=_WITH_CLOUD_TASKS,
)
CLOUD_TASKS_QUEUE = text(
    "ARCO_CLOUD_TASKS_QUEUE",
    "cloud_tasks adapter: the Cloud Tasks queue of the default worker queue; other worker "
    "queues use the Cloud Tasks queue of the same name",
    DEFAULT_QUEUE,
    required=_WITH_CLOUD_TASKS,
)
CLOUD_TASKS_TARGET_URL = text(
    "ARCO_CLOUD_TASKS_TARGET_URL",
    "cloud_tasks adapter: worker POST /dispatch URL of the default worker queue "
    "(this or ARCO_CLOUD_TASKS_TARGETS is required)",
)
CLOUD_TASKS_TARGETS = text(
    "ARCO_CLOUD_TASKS_TARGETS",
    "cloud_tasks adapter: per worker queue /dispatch URLs, queue=url,url;queue2=url",
)
CLOUD_TASKS_EMULATOR_HOST = text(
    "ARCO_CLOUD_TASKS_EMULATOR_HOST",
    "cloud_tasks adapter: host:port of an emulator (insecure channel, no credentials)",
)
CLOUD_TASKS_SERVICE_ACCOUNT_EMAIL = text(
    "ARCO_CLOUD_TASKS_SERVICE_ACCOUNT_EMAIL",
    "cloud_tasks adapter: attach an OIDC token for this service account",
)
CLOUD_TASKS_AUDIENCE = text(
    "ARCO_CLOUD_TASKS_AUDIENCE", "cloud_tasks adapter: OIDC audience", default_doc="the target URL"
)
CLOUD_TASKS_DISPATCH_DEADLINE_SEC = number(
    "ARCO_CLOUD_TASKS_DISPATCH_DEADLINE_SEC",
    "cloud_tasks adapter: seconds Cloud Tasks waits for the worker",
    1800.0,
    minimum=15.0,
)

CLOUD_TASKS_SETTINGS = (
    CLOUD_TASKS_PROJECT,
    CLOUD_TASKS_LOCATION,
    CLOUD_TASKS_QUEUE,
    CLOUD_TASKS_TARGET_URL,
    CLOUD_TASKS_TARGETS,
    CLOUD_TASKS_EMULATOR_HOST,
    CLOUD_TASKS_SERVICE_ACCOUNT_EMAIL,
    CLOUD_TASKS_AUDIENCE,
    CLOUD_TASKS_DISPATCH_DEADLINE_SEC,
)


@dataclasses.dataclass(frozen=True)
class CloudTasksConfig:
    """Where the ``cloud_tasks`` adapter creates tasks and where they are delivered."""

    project: str = setting_field(CLOUD_TASKS_PROJECT)
    location: str = setting_field(CLOUD_TASKS_LOCATION)
    queue: str = setting_field(CLOUD_TASKS_QUEUE)
    target_url: str = setting_field(CLOUD_TASKS_TARGET_URL)
    targets: str = setting_field(CLOUD_TASKS_TARGETS)  # queue=url,url;queue2=url
    emulator_host: str = setting_field(CLOUD_TASKS_EMULATOR_HOST)
    service_account_email: str = setting_field(CLOUD_TASKS_SERVICE_ACCOUNT_EMAIL)
    audience: str = setting_field(CLOUD_TASKS_AUDIENCE)
    dispatch_deadline_sec: float = setting_field(CLOUD_TASKS_DISPATCH_DEADLINE_SEC)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CloudTasksConfig:
        return cls(
            project=CLOUD_TASKS_PROJECT.read(env),
            location=CLOUD_TASKS_LOCATION.read(env),
            queue=CLOUD_TASKS_QUEUE.read(env),
            target_url=CLOUD_TASKS_TARGET_URL.read(env),
            targets=CLOUD_TASKS_TARGETS.read(env),
            emulator_host=CLOUD_TASKS_EMULATOR_HOST.read(env),
            service_account_email=CLOUD_TASKS_SERVICE_ACCOUNT_EMAIL.read(env),
            audience=CLOUD_TASKS_AUDIENCE.read(env),
            dispatch_deadline_sec=CLOUD_TASKS_DISPATCH_DEADLINE_SEC.read(env),
        )

    def target_map(self) -> dict[str, list[str]]:
        """Worker queue -> /dispatch URLs; the plain target URL serves the default queue."""
        targets = parse_targets(self.targets) if self.targets else {}
        if self.target_url:
            targets.setdefault(DEFAULT_QUEUE, []).append(self.target_url)
        return targets

    def validate(self) -> None:
        missing = [
            name
            for name, value in (
                ("ARCO_CLOUD_TASKS_PROJECT", self.project),
                ("ARCO_CLOUD_TASKS_LOCATION", self.location),
                ("ARCO_CLOUD_TASKS_QUEUE", self.queue),
            )
            if not value
        ]
        if missing:
            raise ConfigError("the cloud_tasks adapter needs " + ", ".join(missing))
        if not self.target_map():
            raise ConfigError(
                "the cloud_tasks adapter needs ARCO_CLOUD_TASKS_TARGET_URL or "
                "ARCO_CLOUD_TASKS_TARGETS (the workers' POST /dispatch URLs)"
            )
        for urls in self.target_map().values():
            for url in urls:
                if not url.startswith(("http://", "https://")):
                    raise ConfigError(f"cloud_tasks target {url!r} is not an http(s) URL")


class _Router:
    """Round-robin over a queue's targets; the default queue serves unknown queues.

    Each send starts at the next target and lists the rest as fallbacks, so consecutive
    sends spread over every worker of the queue.
    """

    def __init__(self, targets: Mapping[str, Sequence[str]]) -> None:
        self._targets = {queue: list(addrs) for queue, addrs in targets.items() if addrs}
        self._next = dict.fromkeys(self._targets, 0)

    def candidates(self, queue: str) -> list[str]:
        key = queue if queue in self._targets else DEFAULT_QUEUE
        addrs = self._targets.get(key)
        if not addrs:
            return []
        start = self._next[key]
        self._next[key] = (start + 1) % len(addrs)
        return addrs[start:] + addrs[:start]


class GrpcPushAdapter:
    """Pushes envelopes to ``arco.worker.v1.WorkerService/Dispatch``."""

    name = "grpc"

    def __init__(
        self,
        targets: Mapping[str, Sequence[str]],
        secret: str,
        tls: TlsConfig,
        *,
        timeout_sec: float = 10.0,
    ) -> None:
        if not secret:
            raise ConfigError("gRPC dispatch needs ARCO_WORKER_DISPATCH_SECRET")
        self._router = _Router(targets)
        self._tls = tls
        self._timeout = timeout_sec
        # Workers refuse envelopes without the shared dispatch secret.
        self._metadata = ((DISPATCH_SECRET_HEADER.lower(), secret),)
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _stub(self, address: str) -> wpb_grpc.WorkerServiceAsyncStub:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = aio_channel(address, self._tls)
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


def build_adapter(
    kind: str,
    targets_spec: str,
    secret: str,
    tls: TlsConfig,
    cloud_tasks: CloudTasksConfig | None = None,
) -> DispatchAdapter:
    if kind == "memory":
        return InMemoryAdapter()
    if kind == "cloud_tasks":
        return _cloud_tasks_adapter(cloud_tasks or CloudTasksConfig(), secret)
    targets = parse_targets(targets_spec)
    if kind == "grpc":
        return GrpcPushAdapter(targets, secret, tls)
    if kind == "http":
        return HttpPushAdapter(targets, secret)
    raise ConfigError(f"unknown dispatch adapter {kind!r}: use grpc, http, cloud_tasks or memory")


def _cloud_tasks_adapter(config: CloudTasksConfig, secret: str) -> CloudTasksAdapter:
    # The Cloud Tasks client library is loaded only by processes that select it.
    from services.common.cloud_tasks import CloudTasksAdapter  # noqa: PLC0415

    return CloudTasksAdapter(config, secret)
