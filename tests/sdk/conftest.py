"""SDK test fixtures: a callback recorder on loopback, the sample asset graph, and a
worker (HTTP and gRPC) started in-process against them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from arco_runtime.tls import Role
from arco_sdk.manifest import AssetGraph, discover
from arco_sdk.worker.config import WorkerConfig
from arco_sdk.worker.server import WorkerServer
from tests.sdk.support import SECRET, TENANT, WORKSPACE, Recorder, ThreadedServer
from tests.sdk.worker_harness import Running
from tests.support.tls import tls_config


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    with ThreadedServer(rec.app()) as server:
        rec.url = server.url  # type: ignore[attr-defined]
        yield rec


@pytest.fixture(scope="module")
def graph() -> AssetGraph:
    definitions, _ = discover("tests.sdk.sample_assets")
    return AssetGraph(definitions)


@pytest.fixture
async def worker(recorder: Recorder, graph: AssetGraph, tmp_path: Path) -> AsyncIterator[Running]:
    recorder.reset()
    config = WorkerConfig(
        api_url=recorder.url,  # type: ignore[attr-defined]
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        dispatch_secret=SECRET,
        modules=(),
        worker_id="worker-test",
        output_dir=str(tmp_path / "out"),
        concurrency=4,
        heartbeat_floor_sec=0.05,
        cancel_grace_sec=1.0,
        shutdown_grace_sec=5.0,
        completion_deadline_sec=5.0,
        environment="dev",
        tls=tls_config(Role.WORKER),
    )
    server = WorkerServer(config, graph)
    started = asyncio.Event()
    runner = asyncio.create_task(server.run(started=started))
    await asyncio.wait_for(started.wait(), 10)
    running = Running(server, recorder, tmp_path / "out")
    try:
        yield running
    finally:
        await running.http.aclose()
        server.shutdown()
        await asyncio.wait_for(runner, 30)
