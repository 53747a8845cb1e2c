"""python -m services.compactor: folds one domain's ledger into Parquet state."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from services.common.cli import run_main
from services.common.runner import serve
from services.compactor import wiring
from services.compactor.config import SERVICE_SETTINGS, CompactorConfig


async def _run(env: Mapping[str, str]) -> int:
    config = CompactorConfig.from_env(env)
    return await serve(config.common, config, lambda registry: wiring.build(config, registry, env))


def main(argv: list[str] | None = None) -> int:
    return run_main(
        "python -m services.compactor",
        "Arco compactor: the sole writer of Parquet state and manifests for one domain "
        "(catalog or orchestration) of one tenant/workspace.",
        SERVICE_SETTINGS,
        _run,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
