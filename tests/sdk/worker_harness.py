"""The in-process worker the worker tests drive: a :class:`Running` handle on a
:class:`WorkerServer` started against a callback recorder, and the dispatch secret header."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from arco_sdk.worker.server import WorkerServer
from tests.sdk.support import SECRET, Recorder, envelope

AUTH = {"X-Arco-Dispatch-Secret": SECRET}


class Running:
    def __init__(self, server: WorkerServer, recorder: Recorder, output: Path) -> None:
        self.server = server
        self.recorder = recorder
        self.output = output
        self.http = httpx.AsyncClient(base_url=f"http://{server.http_address}", timeout=30)

    @property
    def api(self) -> str:
        return str(self.recorder.url)  # type: ignore[attr-defined]

    def envelope(self, task_key: str, **kwargs: Any) -> dict[str, Any]:
        return envelope(self.api, task_key, **kwargs)

    async def dispatch(
        self, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(
            "/dispatch", json=body, headers=AUTH if headers is None else headers
        )

    async def completed(self, body: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        calls = await asyncio.to_thread(
            self.recorder.wait_for, "completed", body["taskId"], 1, timeout
        )
        await self.settled()
        return calls[-1].body

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait until the worker has no running task (completion fully processed)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (await self.http.get("/health")).json()["running"]:
            assert asyncio.get_running_loop().time() < deadline, "worker never settled"
            await asyncio.sleep(0.01)
