"""The worker's HTTP client for its task's callbacks (started, heartbeat, completed) and
its log upload; the public REST client is :mod:`arco_sdk.client`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from arco_core.ids import new_ulid
from arco_sdk.client import USER_AGENT, _json_or_none, _quote, api_error_from_response
from arco_sdk.errors import ArcoConnectionError

__all__ = [
    "CallbackClient",
    "CompletedResponse",
    "HeartbeatResponse",
    "StartedResponse",
    "upload_task_logs",
]

log = structlog.get_logger(__name__)


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


class CallbackClient:
    """Task callbacks for one task (one token). The ``httpx.AsyncClient`` is shared by
    the worker and owned by it."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        task_id: str,
        token: str,
        *,
        traceparent: str | None = None,
        tenant_id: str | None = None,
        workspace_id: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/api/v1/tasks/{_quote(task_id)}"
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
        request_id = new_ulid()
        if self._traceparent:
            body = {**body, "traceparent": self._traceparent}
        try:
            response = await self._http.post(
                f"{self._url}/{action}",
                json=body,
                headers={**self._headers, "X-Request-Id": request_id},
                timeout=self._timeout,
            )
        except httpx.TransportError as exc:
            raise ArcoConnectionError(
                f"callback {action} failed: {type(exc).__name__}: {exc}", request_id
            ) from None
        if response.status_code >= 400:
            raise api_error_from_response(response, request_id)
        parsed = _json_or_none(response)
        return parsed if isinstance(parsed, dict) else {}

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
) -> dict[str, Any]:
    """POST a task attempt's captured output to ``.../runs/{runId}/logs`` with the
    attempt's task token. One try: the server stores each attempt's log once and answers a
    repeat with 409 ``logs_already_uploaded``, so a caller that repeats a try lost on the
    way reads that answer as done (the worker runtime does)."""
    request_id = new_ulid()
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
