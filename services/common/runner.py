"""Process lifecycle shared by every gRPC service.

``serve`` logs the effective configuration once (secrets redacted), builds the service's
parts, starts gRPC and the HTTP side port (``/metrics``, ``/healthz``, ``/readyz``), runs background loops, reports SERVING,
and on SIGTERM/SIGINT drains: NOT_SERVING, loops shut down, in-flight RPCs get the grace
period, resources close, exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import grpc
import structlog
from prometheus_client import CollectorRegistry

from arco_runtime.logging import configure_logging
from arco_runtime.process import watch_lifeline, write_ready_file
from arco_runtime.settings import redacted
from services.common.config import CommonConfig
from services.common.http_endpoint import HttpEndpoint
from services.common.server import Registration, build_server

log = structlog.get_logger(__name__)


class BackgroundLoop(Protocol):
    """A long-running loop owned by a service: ``run`` until ``shutdown`` drains it."""

    async def run(self) -> None: ...

    async def shutdown(self) -> None: ...


@dataclasses.dataclass
class ServiceParts:
    """What a service contributes to the shared lifecycle."""

    registrations: Sequence[Registration]
    # Per-RPC checks of this service (e.g. the api's authentication).
    interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
    loops: Sequence[BackgroundLoop] = ()
    close: Callable[[], Awaitable[None]] | None = None
    # Extra fields for the ready file (e.g. the compactor's domain).
    ready_info: dict[str, Any] = dataclasses.field(default_factory=dict)


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


async def serve(
    config: CommonConfig,
    service_config: Any,
    build: Callable[[CollectorRegistry], Awaitable[ServiceParts]],
) -> int:
    configure_logging(config.log_level, config.log_format)
    structlog.contextvars.bind_contextvars(service=config.service)
    log.info("service_config", config=redacted(service_config))
    watch_lifeline(config.lifeline_fd)
    if not config.tls.enabled:
        log.warning("plaintext_dev_mode", why="ARCO_TLS=off: no mesh identities, no matrix")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    registry = CollectorRegistry()
    parts = await build(registry)
    built = await build_server(
        parts.registrations, config.listen_address, registry, config.tls, parts.interceptors
    )
    metrics_host, metrics_port = _split_address(config.metrics_address)
    http_endpoint = HttpEndpoint(metrics_host, metrics_port, registry)
    http_endpoint.start()
    loop_tasks = [asyncio.create_task(item.run(), name=type(item).__name__) for item in parts.loops]

    grpc_host, _ = _split_address(config.listen_address)
    info = {
        "service": config.service,
        "pid": os.getpid(),
        "grpc_address": f"{grpc_host}:{built.port}",
        "metrics_address": f"{metrics_host}:{http_endpoint.port}",
        **parts.ready_info,
    }
    await built.set_serving(True)
    http_endpoint.readiness.set(True)
    if config.ready_file:
        write_ready_file(config.ready_file, info)
    log.info("service_ready", **info)

    stop_wait = asyncio.create_task(stop.wait())
    # A loop that dies is fatal: the process stops loudly instead of limping on.
    done, _ = await asyncio.wait([stop_wait, *loop_tasks], return_when=asyncio.FIRST_COMPLETED)
    exit_code = 0
    for task in done:
        if task is not stop_wait and task.exception() is not None:
            log.error("background_loop_failed", loop=task.get_name(), exc_info=task.exception())
            exit_code = 1

    log.info("service_stopping")
    await built.set_serving(False)
    http_endpoint.readiness.set(False)
    for item in parts.loops:
        await item.shutdown()
    await _drain(loop_tasks, config.shutdown_grace_sec)
    await built.server.stop(config.shutdown_grace_sec)
    if parts.close is not None:
        await parts.close()
    http_endpoint.stop()
    stop_wait.cancel()
    log.info("service_stopped", exit_code=exit_code)
    return exit_code


async def _drain(tasks: Sequence[asyncio.Task[None]], grace: float) -> None:
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
