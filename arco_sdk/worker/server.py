"""The worker process: gRPC and HTTP listeners over one :class:`WorkerRuntime`.

``run()`` binds both listeners (port 0 allowed), writes the ready file, and serves until
``shutdown()``; then it stops accepting dispatches, drains the runtime within the grace
period and closes the listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import httpx
import structlog
import uvicorn
from arco.worker.v1 import worker_service_pb2_grpc as pb_grpc

from arco_runtime.authz import AuthorizationInterceptor
from arco_runtime.process import write_ready_file
from arco_runtime.tls import TlsConfig, add_port, aio_channel
from arco_sdk.callbacks import CallbackTransport, GrpcCallbacks, HttpCallbacks
from arco_sdk.io import ParquetStore
from arco_sdk.manifest import AssetGraph
from arco_sdk.sensors import SensorDefinition
from arco_sdk.worker.capture import OutputRouter
from arco_sdk.worker.config import WorkerConfig
from arco_sdk.worker.grpc_servicer import WorkerServicer
from arco_sdk.worker.http_app import create_app
from arco_sdk.worker.runtime import RuntimeSettings, WorkerRuntime

__all__ = ["WorkerServer"]

log = structlog.get_logger(__name__)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the worker owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WorkerServer:
    def __init__(
        self, config: WorkerConfig, graph: AssetGraph, sensors: Sequence[SensorDefinition] = ()
    ) -> None:
        self.config = config
        self.graph = graph
        self.sensors = tuple(sensors)
        self._stop: asyncio.Event | None = None
        self.grpc_address: str | None = None
        self.http_address: str | None = None
        self.runtime: WorkerRuntime | None = None

    def shutdown(self) -> None:
        """Ask :meth:`run` to drain and return (safe to call before or during run)."""
        if self._stop is None:
            self._stop = asyncio.Event()
        self._stop.set()

    async def run(self, *, started: asyncio.Event | None = None) -> None:
        config = self.config
        if self._stop is None:
            self._stop = asyncio.Event()
        router = OutputRouter()
        router.install()
        http = httpx.AsyncClient(timeout=10.0)
        channel: grpc.aio.Channel | None = None
        transport: CallbackTransport
        if config.callback_address:
            channel = aio_channel(config.callback_address, config.tls or TlsConfig.plaintext())
            transport = GrpcCallbacks(channel)
        else:
            transport = HttpCallbacks(http, config.api_url)
        runtime = WorkerRuntime(
            RuntimeSettings(
                api_url=config.api_url,
                tenant_id=config.tenant_id,
                workspace_id=config.workspace_id,
                worker_id=config.worker_id,
                concurrency=config.concurrency,
                ack_mode="completed" if config.ack_mode == "completed" else "started",
                heartbeat_floor_sec=config.heartbeat_floor_sec,
                heartbeat_ceiling_sec=config.heartbeat_ceiling_sec,
                cancel_grace_sec=config.cancel_grace_sec,
                slot_wait_sec=config.slot_wait_sec,
                completion_deadline_sec=config.completion_deadline_sec,
                recent_dispatch_limit=config.recent_dispatch_limit,
                upload_logs=config.upload_logs,
            ),
            self.graph,
            ParquetStore(Path(config.output_dir).resolve()),
            transport,
            router,
            sensors=self.sensors,
        )
        self.runtime = runtime
        grpc_server: grpc.aio.Server | None = None
        web: _EmbeddedUvicorn | None = None
        web_task: asyncio.Task[None] | None = None
        try:
            if config.grpc_address:
                tls = config.tls or TlsConfig.plaintext()
                # Only the dispatcher and the sweeper may dispatch (the matrix).
                grpc_server = grpc.aio.server(
                    interceptors=[AuthorizationInterceptor(enforce=tls.enabled)]
                )
                pb_grpc.add_WorkerServiceServicer_to_server(
                    WorkerServicer(runtime, config.dispatch_secret), grpc_server
                )
                host, _ = _split(config.grpc_address)
                port = add_port(grpc_server, config.grpc_address, tls)
                await grpc_server.start()
                self.grpc_address = f"{host}:{port}"
            if config.http_address:
                host, port = _split(config.http_address)
                sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                sock.listen(128)
                sock.setblocking(False)
                self.http_address = f"{host}:{sock.getsockname()[1]}"
                web = _EmbeddedUvicorn(
                    uvicorn.Config(
                        create_app(runtime, config.dispatch_secret),
                        log_config=None,
                        access_log=False,
                        lifespan="off",
                        ws="none",
                        timeout_graceful_shutdown=5,
                    )
                )
                web_task = asyncio.create_task(web.serve(sockets=[sock]), name="worker-http")
                while not web.started:
                    if web_task.done():
                        web_task.result()
                        raise RuntimeError("the worker's HTTP server stopped during startup")
                    await asyncio.sleep(0.01)
            info = {
                "service": "worker",
                "pid": os.getpid(),
                "worker_id": config.worker_id,
                "grpc_address": self.grpc_address,
                "http_address": self.http_address,
                "callbacks": "grpc" if channel is not None else "http",
                "assets": [str(key) for key in self.graph.asset_keys()],
            }
            if config.ready_file:
                write_ready_file(config.ready_file, info)
            log.info("worker_ready", **info)
            if started is not None:
                started.set()
            await self._stop.wait()
            log.info("worker_stopping", running=runtime.running)
            runtime.stop_accepting()
            await runtime.shutdown(config.shutdown_grace_sec)
        finally:
            runtime.stop_accepting()
            if web is not None:
                web.should_exit = True
            if web_task is not None:
                with contextlib.suppress(Exception):
                    await web_task
            if grpc_server is not None:
                await grpc_server.stop(grace=2.0)
            await http.aclose()
            if channel is not None:
                await channel.close()
            router.uninstall()
            log.info("worker_stopped")
