"""The worker's client for its task's callbacks (started, heartbeat, completed, sensor
evaluated) and its log upload, over one of two transports:

* :class:`HttpCallbacks`: the public REST routes through the gateway (the default);
* :class:`GrpcCallbacks`: the api's ``TaskCallbackService`` (and ``UploadTaskLogs``) over
  the mesh's mutual TLS, one hop fewer (``ARCO_WORKER_CALLBACK_ADDRESS``).

Both carry the same camelCase bodies and answer the same errors: a refused callback is a
:class:`CallbackRejected` with the api's reason, its status from the one gRPC -> HTTP
table (:mod:`arco_runtime.rpc_errors`). The public REST client is :mod:`arco_sdk.client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
import httpx
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from arco.orchestration.v1 import task_callback_service_pb2_grpc as callback_grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from arco_core.ids import new_ulid
from arco_runtime.rpc_errors import http_status, parse_rpc_error
from arco_sdk.client import USER_AGENT, _json_or_none, _quote, api_error_from_response
from arco_sdk.errors import ArcoApiError, ArcoConnectionError, CallbackRejected

__all__ = [
    "CallbackClient",
    "CallbackTransport",
    "CompletedResponse",
    "GrpcCallbacks",
    "HeartbeatResponse",
    "HttpCallbacks",
    "LogUpload",
    "StartedResponse",
    "upload_task_logs",
]


@dataclass(frozen=True, slots=True)
class StartedResponse:
    acknowledged: bool
    server_time: str | None


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    acknowledged: bool
    should_cancel: bool
    cancel_reason: str | None
    server_time: str | None
    # A renewed task token for the attempt and its expiry (RFC 3339), when the api sent one.
    task_token: str | None = None
    token_expires_at: str | None = None


@dataclass(frozen=True, slots=True)
class CompletedResponse:
    acknowledged: bool
    final_state: str | None
    server_time: str | None


@dataclass(frozen=True, slots=True)
class LogUpload:
    """One attempt's captured output, sent once with the attempt's task token."""

    workspace_id: str
    run_id: str
    task_key: str
    attempt: int
    stdout: str
    stderr: str


class CallbackTransport(Protocol):
    """How a callback reaches the api. ``action`` is the REST route's last segment
    (``started``, ``heartbeat``, ``completed``, ``sensor-evaluated``); ``body`` and the
    answer are the camelCase JSON of the route."""

    async def call(
        self,
        action: str,
        task_id: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        timeout: float,
    ) -> dict[str, Any]: ...

    async def upload_logs(
        self, logs: LogUpload, token: str, request_id: str, timeout: float
    ) -> None: ...


class HttpCallbacks:
    """Callbacks as the public REST routes under ``base_url`` (the gateway)."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    async def call(
        self,
        action: str,
        task_id: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        timeout: float,
    ) -> dict[str, Any]:
        request_id = headers["X-Request-Id"]
        try:
            response = await self._http.post(
                f"{self._base}/api/v1/tasks/{_quote(task_id)}/{action}",
                json=body,
                headers=dict(headers),
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            raise ArcoConnectionError(
                f"callback {action} failed: {type(exc).__name__}: {exc}", request_id
            ) from None
        if response.status_code >= 400:
            raise api_error_from_response(response, request_id)
        parsed = _json_or_none(response)
        return parsed if isinstance(parsed, dict) else {}

    async def upload_logs(
        self, logs: LogUpload, token: str, request_id: str, timeout: float
    ) -> None:
        await upload_task_logs(
            self._http,
            self._base,
            token,
            logs.workspace_id,
            run_id=logs.run_id,
            task_key=logs.task_key,
            attempt=logs.attempt,
            stdout=logs.stdout,
            stderr=logs.stderr,
            timeout=timeout,
            request_id=request_id,
        )


# Each action's RPC and request type (the REST route's body parses into it as the gateway
# parses it: ProtoJSON, either spelling, unknown fields ignored).
_RPCS: Mapping[str, tuple[str, type[Message]]] = {
    "started": ("TaskStarted", callback_pb.TaskStartedRequest),
    "heartbeat": ("TaskHeartbeat", callback_pb.TaskHeartbeatRequest),
    "completed": ("TaskCompleted", callback_pb.TaskCompletedRequest),
    "sensor-evaluated": ("SensorEvaluated", callback_pb.SensorEvaluatedRequest),
}
# Headers that travel as gRPC metadata (lower-case); the rest are HTTP's own.
_FORWARDED = ("authorization", "x-request-id", "traceparent", "x-tenant-id", "x-workspace-id")


class GrpcCallbacks:
    """Callbacks as the api's ``TaskCallbackService`` RPCs on ``channel`` (a mesh channel
    presenting the worker's certificate; the caller owns and closes it)."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._callbacks = callback_grpc.TaskCallbackServiceStub(channel)
        self._orchestration = orch_grpc.OrchestrationServiceStub(channel)

    async def call(
        self,
        action: str,
        task_id: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        timeout: float,
    ) -> dict[str, Any]:
        method, request_type = _RPCS[action]
        request = json_format.ParseDict(
            {**body, "taskId": task_id}, request_type(), ignore_unknown_fields=True
        )
        metadata = _metadata(headers)
        request_id = dict(metadata)["x-request-id"]
        try:
            response = await getattr(self._callbacks, method)(
                request, metadata=metadata, timeout=timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise callback_error(exc, request_id) from None
        answer: dict[str, Any] = json_format.MessageToDict(
            response, always_print_fields_with_no_presence=True
        )
        return answer

    async def upload_logs(
        self, logs: LogUpload, token: str, request_id: str, timeout: float
    ) -> None:
        request = orch_pb.UploadTaskLogsRequest(
            workspace_id=logs.workspace_id,
            run_id=logs.run_id,
            task_key=logs.task_key,
            attempt=logs.attempt,
            stdout=logs.stdout,
            stderr=logs.stderr,
        )
        metadata = (("authorization", f"Bearer {token}"), ("x-request-id", request_id))
        try:
            await self._orchestration.UploadTaskLogs(request, metadata=metadata, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise callback_error(exc, request_id) from None


def _metadata(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    lowered = {name.lower(): value for name, value in headers.items()}
    return tuple((name, lowered[name]) for name in _FORWARDED if name in lowered)


def callback_error(exc: grpc.aio.AioRpcError, request_id: str) -> ArcoApiError:
    """The error the REST route would have answered for this failed RPC: a 4xx (but 429)
    is the api's verdict (:class:`CallbackRejected` with its reason and attempt fields);
    the rest keep their status, so the transient ones (503, 504) are retried alike."""
    wire = parse_rpc_error(exc)
    status = http_status(wire)
    if 400 <= status < 500 and status != 429:
        meta = wire.metadata
        return CallbackRejected(
            status,
            wire.reason or wire.code.name.lower(),
            wire.message,
            state=meta.get("state") or None,
            expected_attempt=_integer(meta.get("expected_attempt")),
            received_attempt=_integer(meta.get("received_attempt")),
            expected_attempt_id=meta.get("expected_attempt_id") or None,
            received_attempt_id=meta.get("received_attempt_id") or None,
            request_id=request_id,
        )
    return ArcoApiError(status, wire.code.name, wire.message, request_id)


def _integer(raw: str | None) -> int | None:
    return int(raw) if raw and raw.lstrip("-").isdigit() else None


class CallbackClient:
    """Task callbacks for one task (one token) over a shared ``transport`` (owned by the
    worker)."""

    def __init__(
        self,
        transport: CallbackTransport,
        task_id: str,
        token: str,
        *,
        traceparent: str | None = None,
        tenant_id: str | None = None,
        workspace_id: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._transport = transport
        self._task_id = task_id
        self._traceparent = traceparent
        self._timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        if tenant_id:
            self._headers["X-Tenant-Id"] = tenant_id
        if workspace_id:
            self._headers["X-Workspace-Id"] = workspace_id
        if traceparent:
            self._headers["traceparent"] = traceparent

    def adopt_token(self, token: str) -> None:
        """Authenticate every later callback with ``token`` (a renewal of the current one)."""
        self._headers["Authorization"] = f"Bearer {token}"

    async def _post(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._traceparent:
            body = {**body, "traceparent": self._traceparent}
        headers = {**self._headers, "X-Request-Id": new_ulid()}
        return await self._transport.call(action, self._task_id, body, headers, self._timeout)

    async def started(
        self, *, attempt: int, attempt_id: str, worker_id: str, started_at: str
    ) -> StartedResponse:
        body = await self._post(
            "started",
            {
                "attempt": attempt,
                "attemptId": attempt_id,
                "workerId": worker_id,
                "startedAt": started_at,
            },
        )
        return StartedResponse(bool(body.get("acknowledged", True)), body.get("serverTime"))

    async def heartbeat(
        self,
        *,
        attempt: int,
        attempt_id: str,
        worker_id: str,
        heartbeat_at: str,
        progress_pct: int | None = None,
        message: str | None = None,
    ) -> HeartbeatResponse:
        payload: dict[str, Any] = {
            "attempt": attempt,
            "attemptId": attempt_id,
            "workerId": worker_id,
            "heartbeatAt": heartbeat_at,
        }
        if progress_pct is not None:
            payload["progressPct"] = progress_pct
        if message is not None:
            payload["message"] = message
        body = await self._post("heartbeat", payload)
        renewed = body.get("taskToken")
        answer = HeartbeatResponse(
            bool(body.get("acknowledged", True)),
            bool(body.get("shouldCancel", False)),
            body.get("cancelReason"),
            body.get("serverTime"),
            task_token=renewed if isinstance(renewed, str) and renewed else None,
            token_expires_at=body.get("tokenExpiresAt"),
        )
        if answer.task_token is not None:
            self.adopt_token(answer.task_token)
        return answer

    async def sensor_evaluated(self, payload: dict[str, Any]) -> str:
        """Answer a sensor evaluation; the recorded status (SKIPPED_STALE_CURSOR when
        another answer moved the cursor first)."""
        body = await self._post("sensor-evaluated", payload)
        return str(body.get("status", ""))

    async def completed(self, payload: dict[str, Any]) -> CompletedResponse:
        body = await self._post("completed", payload)
        return CompletedResponse(
            bool(body.get("acknowledged", True)), body.get("finalState"), body.get("serverTime")
        )


async def upload_task_logs(
    http: httpx.AsyncClient,
    api_url: str,
    task_token: str,
    workspace_id: str,
    *,
    run_id: str,
    task_key: str,
    attempt: int,
    stdout: str,
    stderr: str,
    timeout: float = 10.0,
    request_id: str | None = None,
) -> dict[str, Any]:
    """POST a task attempt's captured output to ``.../runs/{runId}/logs`` with the
    attempt's task token. One try: the server stores each attempt's log once and answers a
    repeat with 409 ``logs_already_uploaded``, so a caller that repeats a try lost on the
    way reads that answer as done (the worker runtime does)."""
    request_id = request_id or new_ulid()
    url = (
        f"{api_url.rstrip('/')}/api/v1/workspaces/{_quote(workspace_id)}/runs/{_quote(run_id)}/logs"
    )
    try:
        response = await http.post(
            url,
            json={"taskKey": task_key, "attempt": attempt, "stdout": stdout, "stderr": stderr},
            headers={
                "Authorization": f"Bearer {task_token}",
                "X-Request-Id": request_id,
                "User-Agent": USER_AGENT,
            },
            timeout=timeout,
        )
    except httpx.TransportError as exc:
        raise ArcoConnectionError(f"log upload failed: {exc}", request_id) from None
    if response.status_code >= 400:
        raise api_error_from_response(response, request_id)
    parsed = _json_or_none(response)
    return parsed if isinstance(parsed, dict) else {}
