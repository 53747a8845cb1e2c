"""``python -m arco_sdk.worker [MODULES...] [--options]``: run a worker process.

SIGTERM/SIGINT: stop accepting dispatches, let running tasks finish within
``--shutdown-grace-sec``, cancel the rest (reported FAILED/INFRASTRUCTURE, retryable),
exit 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence

import structlog

from arco_runtime.logging import configure_logging
from arco_runtime.process import LIFELINE_FD, ignore_late_signals, watch_lifeline
from arco_sdk.errors import DiscoveryError, GraphError
from arco_sdk.manifest import AssetGraph, discover
from arco_sdk.sensors import SensorDefinition, discover_sensors
from arco_sdk.worker.config import WorkerConfig, build_parser, config_from_args
from arco_sdk.worker.server import WorkerServer

__all__ = ["main", "serve"]


async def serve(
    config: WorkerConfig, graph: AssetGraph, sensors: Sequence[SensorDefinition] = ()
) -> None:
    server = WorkerServer(config, graph, sensors)
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
        watch_lifeline(LIFELINE_FD.read(os.environ))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level, config.log_format, cache_loggers=False)
    log = structlog.get_logger("arco_sdk.worker")
    if not config.modules:
        print("error: no asset modules given (arguments or ARCO_WORKER_MODULES)", file=sys.stderr)
        return 2
    try:
        definitions, _ = discover(list(config.modules))
        graph = AssetGraph(definitions)
        sensors = discover_sensors(list(config.modules))
    except (DiscoveryError, GraphError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log.info("worker_config", config=config.redacted(), assets=len(graph))
    asyncio.run(serve(config, graph, sensors))
    ignore_late_signals()
    return 0


if __name__ == "__main__":
    sys.exit(main())
