"""``python -m arco_sdk.worker [MODULES...] [--options]``: run a worker process.

SIGTERM/SIGINT: stop accepting dispatches, let running tasks finish within
``--shutdown-grace-sec``, cancel the rest (reported FAILED/INFRASTRUCTURE, retryable),
exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

import structlog

from arco_sdk.errors import DiscoveryError, GraphError
from arco_sdk.manifest import AssetGraph, discover
from arco_sdk.worker.config import WorkerConfig, build_parser, config_from_args
from arco_sdk.worker.server import WorkerServer

__all__ = ["configure_logging", "main", "serve"]


class _StderrProxy:
    """Resolves sys.stderr at write time, so the worker's own logs bypass task capture
    (they are emitted outside any task context) yet follow redirection."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.WriteLoggerFactory(file=_StderrProxy()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


async def serve(config: WorkerConfig, graph: AssetGraph) -> None:
    server = WorkerServer(config, graph)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.shutdown)
    try:
        await server.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level, config.log_format)
    log = structlog.get_logger("arco_sdk.worker")
    if not config.modules:
        print("error: no asset modules given (arguments or ARCO_WORKER_MODULES)", file=sys.stderr)
        return 2
    try:
        definitions, _ = discover(list(config.modules))
        graph = AssetGraph(definitions)
    except (DiscoveryError, GraphError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log.info("worker_config", config=config.redacted(), assets=len(graph))
    asyncio.run(serve(config, graph))
    # Drained: a late signal during interpreter teardown must not turn exit 0 into a kill.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    return 0


if __name__ == "__main__":
    sys.exit(main())
