"""A 200-task graph for the storage-fault test (namespace ``faults``): twenty groups, each
``root_g`` fanning out to eight ``mid_g_i`` and in to ``sink_g`` (1 + 8 + 1 tasks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from arco_sdk import AssetContext, asset
from arco_sdk.assets import AssetDefinition

NS = "faults"
GROUPS = 20
FAN_OUT = 8


def _define(name: str, deps: list[str]) -> AssetDefinition:
    def run(ctx: AssetContext) -> None:
        time.sleep(0.01)

    run.__name__ = run.__qualname__ = name
    decorate: Callable[[Callable[..., Any]], AssetDefinition] = asset(
        namespace=NS,
        name=name,
        deps=deps or None,
        heartbeat_timeout_seconds=30,
        max_retries=5,
    )
    return decorate(run)


def task_keys() -> list[str]:
    keys = []
    for group in range(GROUPS):
        keys.append(f"{NS}.root_{group}")
        keys.extend(f"{NS}.mid_{group}_{i}" for i in range(FAN_OUT))
        keys.append(f"{NS}.sink_{group}")
    return keys


for _group in range(GROUPS):
    _root = f"root_{_group}"
    globals()[_root] = _define(_root, [])
    _mids = [f"mid_{_group}_{_i}" for _i in range(FAN_OUT)]
    for _mid in _mids:
        globals()[_mid] = _define(_mid, [f"{NS}.{_root}"])
    globals()[f"sink_{_group}"] = _define(f"sink_{_group}", [f"{NS}.{m}" for m in _mids])
