"""python -m services.dispatcher: turns ready work into WorkerDispatchEnvelopes."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from services.common.cli import run_main
from services.common.runner import serve
from services.dispatcher import wiring
from services.dispatcher.config import SERVICE_SETTINGS, DispatcherConfig


async def _run(env: Mapping[str, str]) -> int:
    config = DispatcherConfig.from_env(env)
    return await serve(config.common, config, lambda registry: wiring.build(config, registry, env))


def main(argv: list[str] | None = None) -> int:
    return run_main(
        "python -m services.dispatcher",
        "Arco dispatcher: turns READY tasks and outbox rows into WorkerDispatchEnvelopes "
        "sent through a provider adapter.",
        SERVICE_SETTINGS,
        _run,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
