"""python -m services.sweeper: repairs lost or stuck orchestration work."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from services.common.cli import run_main
from services.common.runner import serve
from services.sweeper import wiring
from services.sweeper.config import SERVICE_SETTINGS, SweeperConfig


async def _run(env: Mapping[str, str]) -> int:
    config = SweeperConfig.from_env(env)
    return await serve(config.common, config, lambda registry: wiring.build(config, registry, env))


def main(argv: list[str] | None = None) -> int:
    return run_main(
        "python -m services.sweeper",
        "Arco sweeper: anti-entropy for READY tasks without dispatch, stale outbox rows, "
        "due retries and RUNNING tasks whose heartbeats stopped.",
        SERVICE_SETTINGS,
        _run,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
