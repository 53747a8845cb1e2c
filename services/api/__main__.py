"""python -m services.api: the public control-plane API (gRPC)."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from services.api import wiring
from services.api.config import SERVICE_SETTINGS, ApiConfig
from services.common.cli import run_main
from services.common.runner import serve


async def _run(env: Mapping[str, str]) -> int:
    config = ApiConfig.from_env(env)
    return await serve(config.common, config, lambda registry: wiring.build(config, registry, env))


def main(argv: list[str] | None = None) -> int:
    return run_main(
        "python -m services.api",
        "Arco api: event APIs, worker callbacks, catalog DDL, read-only SQL and signed URLs. "
        "It never writes Parquet state.",
        SERVICE_SETTINGS,
        _run,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
