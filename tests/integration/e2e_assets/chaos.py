"""A 100-task graph for the chaos test (namespace ``chaos``): ten groups, each

    root_g ─┬─> mid_g_1 ─┐
            ├─> ...      ├─> sink_g      (1 + 8 + 1 tasks; fan-out then fan-in)
            └─> mid_g_8 ─┘

and a daily-partitioned pair ``daily_src -> daily_sink``, so partition status is folded too.

Every asset is tiny (a short sleep, no output) and appends one line per execution to
``{run}.chaos.executions`` so the test can see redeliveries. A 30 s heartbeat timeout
(the planner's floor) lets the sweeper reap an attempt whose completion was lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from arco_sdk import AssetContext, DailyPartition, asset
from arco_sdk.assets import AssetDefinition
from tests.integration.e2e_assets.markers import append_line, worker_id

NS = "chaos"
GROUPS = 10
FAN_OUT = 8
WORK_SEC = 0.4


def _body(ctx: AssetContext) -> None:
    append_line(ctx.run_id, "chaos.executions", f"{ctx.task_key} {ctx.attempt} {worker_id()}")
    time.sleep(WORK_SEC)


def _define(name: str, deps: list[str], *, partitioned: bool = False) -> AssetDefinition:
    def run(ctx: AssetContext) -> None:
        _body(ctx)

    run.__name__ = run.__qualname__ = name
    decorate: Callable[[Callable[..., Any]], AssetDefinition] = asset(
        namespace=NS,
        name=name,
        deps=deps or None,
        heartbeat_timeout_seconds=30,
        max_retries=5,
        partitions=DailyPartition("date") if partitioned else None,
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

DAILY_SRC, DAILY_SINK = f"{NS}.daily_src", f"{NS}.daily_sink"
daily_src = _define("daily_src", [], partitioned=True)
daily_sink = _define("daily_sink", [DAILY_SRC], partitioned=True)
