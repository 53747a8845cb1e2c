"""Real loopback HTTP servers for SDK tests: a threaded uvicorn runner, a task-callback
recorder (answers 200/409/410 on demand) and envelope builders."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TENANT = "tenant-a"
WORKSPACE = "ws-b"
SECRET = "dispatch-s3cret"


class ThreadedServer:
    """uvicorn on 127.0.0.1:0 in a daemon thread (its own event loop)."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", ws="none", loop="asyncio"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise AssertionError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


@dataclass
class Call:
    action: str
    task_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class Recorder:
    """The api's task-callback and log routes, recording every call in order.

    ``started``, ``heartbeat`` and ``completed`` hold optional overrides: a callable
    ``(call_number, body) -> (status, json)`` or None for the normal 200 answer.
    """

    calls: list[Call] = field(default_factory=list)
    started: Callable[[int, dict[str, Any]], tuple[int, dict[str, Any]]] | None = None
    heartbeat: Callable[[int, dict[str, Any]], tuple[int, dict[str, Any]]] | None = None
    completed: Callable[[int, dict[str, Any]], tuple[int, dict[str, Any]]] | None = None
    logs: Callable[[int, dict[str, Any]], tuple[int, dict[str, Any]]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, action: str, task_id: str | None = None) -> list[Call]:
        with self.lock:
            return [
                c
                for c in self.calls
                if c.action == action and (task_id is None or c.task_id == task_id)
            ]

    def actions(self, task_id: str) -> list[str]:
        with self.lock:
            return [c.action for c in self.calls if c.task_id == task_id]

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
        self.started = self.heartbeat = self.completed = self.logs = None

    def wait_for(
        self, action: str, task_id: str, count: int = 1, timeout: float = 10.0
    ) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(action, task_id)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"no {action} for {task_id}; calls: {self.actions(task_id)}")

    def app(self) -> Starlette:
        async def callback(request: Request) -> Response:
            action = request.path_params["action"]
            task_id = request.path_params["task_id"]
            body = await request.json()
            with self.lock:
                self.calls.append(
                    Call(action, task_id, body, dict(request.headers), time.monotonic())
                )
                number = len([c for c in self.calls if c.action == action and c.task_id == task_id])
            override = getattr(self, action, None)
            if override is not None:
                status, answer = override(number, body)
                return JSONResponse(answer, status_code=status)
            now = "2026-01-01T00:00:00.000Z"
            if action == "started":
                return JSONResponse({"acknowledged": True, "serverTime": now})
            if action == "heartbeat":
                return JSONResponse(
                    {"acknowledged": True, "shouldCancel": False, "serverTime": now}
                )
            return JSONResponse(
                {"acknowledged": True, "finalState": body.get("outcome"), "serverTime": now}
            )

        async def logs(request: Request) -> Response:
            body = await request.json()
            task_id = body.get("taskKey", "")
            with self.lock:
                self.calls.append(
                    Call(
                        "logs",
                        f"{request.path_params['run_id']}/{task_id}",
                        body,
                        dict(request.headers),
                        time.monotonic(),
                    )
                )
                number = len([c for c in self.calls if c.action == "logs"])
            if self.logs is not None:
                status, answer = self.logs(number, body)
                return JSONResponse(answer, status_code=status)
            return JSONResponse({"path": "logs/x", "sizeBytes": 1})

        async def side_effect(request: Request) -> Response:
            body = await request.json()
            with self.lock:
                self.calls.append(
                    Call(
                        "side_effect", body["taskId"], body, dict(request.headers), time.monotonic()
                    )
                )
            return JSONResponse({})

        return Starlette(
            routes=[
                Route("/api/v1/tasks/{task_id}/{action}", callback, methods=["POST"]),
                Route("/api/v1/workspaces/{ws}/runs/{run_id}/logs", logs, methods=["POST"]),
                Route("/side-effect", side_effect, methods=["POST"]),
            ]
        )


def envelope(
    api_url: str,
    task_key: str,
    *,
    run_id: str = "RUN1",
    attempt: int = 1,
    dispatch_id: str | None = None,
    payload: dict[str, Any] | None = None,
    heartbeat_timeout_sec: int | None = None,
    partition_key: str | None = None,
    traceparent: str | None = None,
    tenant_id: str = TENANT,
    workspace_id: str = WORKSPACE,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tenantId": tenant_id,
        "workspaceId": workspace_id,
        "taskId": f"task-{run_id}-{task_key}",
        "taskKey": task_key,
        "runId": run_id,
        "attempt": attempt,
        "attemptId": f"att-{run_id}-{task_key}-{attempt}",
        "dispatchId": dispatch_id or f"dispatch:{run_id}:{task_key}:{attempt}",
        "workerQueue": "default-queue",
        "callbackBaseUrl": api_url,
        "taskToken": "task-token",
        "tokenExpiresAt": "2030-01-01T00:00:00Z",
        "payload": payload or {},
    }
    if heartbeat_timeout_sec is not None:
        body["heartbeatTimeoutSec"] = heartbeat_timeout_sec
    if partition_key is not None:
        body["partitionKey"] = partition_key
    if traceparent is not None:
        body["traceparent"] = traceparent
    return body
