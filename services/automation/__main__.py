"""python -m services.automation: fires schedule ticks as runs."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from services.automation import wiring
from services.automation.config import SERVICE_SETTINGS, AutomationConfig
from services.common.cli import run_main
from services.common.runner import serve


async def _run(env: Mapping[str, str]) -> int:
    config = AutomationConfig.from_env(env)
    return await serve(config.common, config, lambda registry: wiring.build(config, registry, env))


def main(argv: list[str] | None = None) -> int:
    return run_main(
        "python -m services.automation",
        "Arco automation: sleeps until the next schedule tick, then requests its run "
        "(one run per tick, whatever races or restarts).",
        SERVICE_SETTINGS,
        _run,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
