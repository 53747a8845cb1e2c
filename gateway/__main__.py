"""python -m gateway: the public /api/v1 HTTP/JSON front end."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Iterator, Sequence

import structlog
import uvicorn
import uvloop

from arco_runtime.logging import configure_logging
from arco_runtime.process import (
    LIFELINE_FD,
    ignore_late_signals,
    watch_lifeline,
    write_ready_file,
)
from arco_runtime.settings import ConfigError, epilog, redacted
from gateway.app import create_app
from gateway.config import SERVICE_SETTINGS, GatewayConfig

log = structlog.get_logger(__name__)


def _bind(address: str) -> socket.socket:
    host, _, port = address.rpartition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host or "127.0.0.1", int(port)))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn re-raises a captured SIGTERM after shutdown (exit -15); we drain and exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        yield


async def _serve(config: GatewayConfig) -> int:
    configure_logging(config.log_level, config.log_format)
    structlog.contextvars.bind_contextvars(service="gateway")
    log.info("service_config", config=redacted(config))
    if not config.jwt.configured and not config.dev_auth:
        log.warning("no_user_auth_configured", effect="every user route answers 401")
    if not config.identity_secret:
        log.warning("no_identity_secret", effect="identity is not forwarded to the api")
    sock = _bind(config.listen_address)
    host, port = sock.getsockname()[:2]
    server = _Server(
        uvicorn.Config(
            create_app(config),
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(config.shutdown_grace_sec),
            lifespan="on",
        )
    )

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        info = {"service": "gateway", "pid": os.getpid(), "http_address": f"{host}:{port}"}
        if config.ready_file:
            write_ready_file(config.ready_file, info)
        log.info("service_ready", **info)

    announcer = asyncio.create_task(announce())
    await server.serve(sockets=[sock])  # uvicorn handles SIGTERM/SIGINT gracefully
    announcer.cancel()
    log.info("service_stopped", exit_code=0)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway",
        description="Arco gateway: the public /api/v1 HTTP/JSON surface over the api's gRPC.",
        epilog=epilog(SERVICE_SETTINGS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        config = GatewayConfig.from_env(dict(os.environ))
        watch_lifeline(LIFELINE_FD.read(os.environ))
    except ConfigError as exc:
        print(f"python -m gateway: {exc}", file=sys.stderr)
        return 2
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        code = runner.run(_serve(config))
    ignore_late_signals()
    return code


if __name__ == "__main__":
    sys.exit(main())
