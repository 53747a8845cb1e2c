"""The Google Cloud Tasks dispatch adapter: one named HTTP task per envelope.

Each attempt becomes a task named
``projects/{project}/locations/{location}/queues/{queue}/tasks/{cloud_task_id}``. The
name is deterministic (``d_`` + 26 base32 chars of sha256(dispatch_id)), so a second
create of the same attempt answers ALREADY_EXISTS, which Cloud Tasks keeps for about a
day: that is a deduplicated send, not an error. RESOURCE_EXHAUSTED (HTTP 429) means the
queue is full. The task POSTs the camelCase JSON envelope to the worker's
``/dispatch`` endpoint with the shared ``X-Arco-Dispatch-Secret`` header (and an OIDC
token when a service account is configured); Cloud Tasks retries non-2xx answers with
the queue's retry policy.

Routing follows the reference: the default worker queue goes to the configured queue;
any other worker queue goes to the Cloud Tasks queue of the same name. Target URLs are
chosen per worker queue (round robin), falling back to the default queue's URLs.

``ARCO_CLOUD_TASKS_EMULATOR_HOST`` points the client at an emulator over an insecure
loopback channel without credentials.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import structlog
from arco.orchestration.v1 import worker_protocol_pb2 as worker_pb
from google.api_core import exceptions as gexc
from google.api_core import retry_async
from google.auth import credentials as ga_credentials
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcAsyncIOTransport
from google.protobuf import duration_pb2

from arco_core.wire.worker_protocol import to_json
from arco_runtime.settings import ConfigError
from services.common.dispatch import (
    DEFAULT_QUEUE,
    DISPATCH_SECRET_HEADER,
    CloudTasksConfig,
    SendOutcome,
    SendResult,
    _Router,
)

log = structlog.get_logger(__name__)

_TRANSIENT = retry_async.if_exception_type(gexc.ServiceUnavailable, gexc.DeadlineExceeded)


class CloudTasksAdapter:
    """Creates one named Cloud Tasks HTTP task per envelope."""

    name = "cloud_tasks"

    def __init__(
        self,
        config: CloudTasksConfig,
        secret: str,
        *,
        timeout_sec: float = 10.0,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> None:
        if not secret:
            raise ConfigError("Cloud Tasks dispatch needs ARCO_WORKER_DISPATCH_SECRET")
        config.validate()
        self._config = config
        self._secret = secret
        self._router = _Router(config.target_map())
        self._timeout = timeout_sec
        self._interceptors = list(interceptors)
        self._client: tasks_v2.CloudTasksAsyncClient | None = None
        # Named creates are idempotent: a retry after a lost answer gets ALREADY_EXISTS.
        self._retry = retry_async.AsyncRetry(
            predicate=_TRANSIENT, initial=0.1, maximum=2.0, multiplier=2.0, timeout=timeout_sec
        )

    # -- naming and routing -----------------------------------------------------------

    def queue_for(self, worker_queue: str) -> str:
        """The Cloud Tasks queue id for a worker queue (the reference's routing key)."""
        if worker_queue and worker_queue != DEFAULT_QUEUE:
            return worker_queue
        return self._config.queue

    def queue_path(self, worker_queue: str) -> str:
        return tasks_v2.CloudTasksAsyncClient.queue_path(
            self._config.project, self._config.location, self.queue_for(worker_queue)
        )

    def task_name(self, worker_queue: str, cloud_task_id: str) -> str:
        return f"{self.queue_path(worker_queue)}/tasks/{cloud_task_id}"

    def build_task(
        self, envelope: worker_pb.WorkerDispatchEnvelope, cloud_task_id: str, target_url: str
    ) -> tasks_v2.Task:
        request = tasks_v2.HttpRequest(
            http_method=tasks_v2.HttpMethod.POST,
            url=target_url,
            headers={
                "Content-Type": "application/json",
                DISPATCH_SECRET_HEADER: self._secret,
            },
            body=json.dumps(to_json(envelope), separators=(",", ":")).encode("utf-8"),
        )
        if self._config.service_account_email:
            request.oidc_token = tasks_v2.OidcToken(
                service_account_email=self._config.service_account_email,
                audience=self._config.audience or target_url,
            )
        return tasks_v2.Task(
            name=self.task_name(envelope.worker_queue, cloud_task_id),
            http_request=request,
            dispatch_deadline=duration_pb2.Duration(
                seconds=int(self._config.dispatch_deadline_sec)
            ),
        )

    # -- sending ----------------------------------------------------------------------

    def _get_client(self) -> tasks_v2.CloudTasksAsyncClient:
        if self._client is None:
            self._client = tasks_v2.CloudTasksAsyncClient(transport=self._transport())
        return self._client

    def _transport(self) -> CloudTasksGrpcAsyncIOTransport:
        interceptors = self._interceptors or None
        if self._config.emulator_host:
            channel = grpc.aio.insecure_channel(
                self._config.emulator_host, interceptors=interceptors
            )
            return CloudTasksGrpcAsyncIOTransport(
                channel=channel,
                credentials=ga_credentials.AnonymousCredentials(),  # type: ignore[no-untyped-call]
            )
        factory: Callable[..., grpc.aio.Channel] = CloudTasksGrpcAsyncIOTransport.create_channel
        if interceptors:

            def with_interceptors(*args: Any, **kwargs: Any) -> grpc.aio.Channel:
                return CloudTasksGrpcAsyncIOTransport.create_channel(
                    *args, interceptors=interceptors, **kwargs
                )

            factory = with_interceptors
        return CloudTasksGrpcAsyncIOTransport(channel=factory)

    async def send(
        self, envelope: worker_pb.WorkerDispatchEnvelope, cloud_task_id: str
    ) -> SendResult:
        candidates = self._router.candidates(envelope.worker_queue)
        if not candidates:
            return SendResult(
                SendOutcome.FAILED, error=f"no target URL for queue {envelope.worker_queue!r}"
            )
        task = self.build_task(envelope, cloud_task_id, candidates[0])
        parent = self.queue_path(envelope.worker_queue)
        try:
            created = await self._get_client().create_task(
                parent=parent, task=task, retry=self._retry, timeout=self._timeout
            )
        except gexc.AlreadyExists:
            return SendResult(SendOutcome.DEDUPLICATED, task.name)
        except gexc.TooManyRequests as exc:  # RESOURCE_EXHAUSTED: the queue is full
            return SendResult(SendOutcome.QUEUE_FULL, task.name, str(exc.message)[:200])
        except gexc.GoogleAPIError as exc:
            return SendResult(SendOutcome.FAILED, task.name, f"{type(exc).__name__}: {exc}")
        except TimeoutError as exc:
            return SendResult(SendOutcome.FAILED, task.name, f"timeout: {exc!r}")
        return SendResult(SendOutcome.ENQUEUED, created.name or task.name)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.transport.close()  # type: ignore[no-untyped-call]
            self._client = None
