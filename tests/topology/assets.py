"""The topology test's graph (namespace ``topo``), eight tasks in two diamonds:

    src ─┬─> left ──┐          ┌─> out_a ─┐
         ├─> mid ───┼─> join ──┤          ├─> sink
         └─> right ─┘          └─> out_b ─┘

Each asset sleeps briefly (so kills land while tasks run) and appends ``start`` and
``done`` lines with its task key, attempt and worker to ``{run}.topo.executions``; the
test counts them. A 30 s heartbeat timeout (the planner's floor) lets the sweeper reap an
attempt whose worker was killed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from arco_sdk import AssetContext, asset
from arco_sdk.assets import AssetDefinition
from tests.integration.e2e_assets.markers import append_line, worker_id

NS = "topo"
WORK_SEC = 0.5
EXECUTIONS = "topo.executions"
GRAPH = {
    "src": [],
    "left": ["src"],
    "mid": ["src"],
    "right": ["src"],
    "join": ["left", "mid", "right"],
    "out_a": ["join"],
    "out_b": ["join"],
    "sink": ["out_a", "out_b"],
}
TASK_KEYS = [f"{NS}.{name}" for name in GRAPH]


def _define(name: str, deps: list[str]) -> AssetDefinition:
    def run(ctx: AssetContext) -> None:
        line = f"{ctx.task_key} {ctx.attempt} {worker_id()}"
        append_line(ctx.run_id, EXECUTIONS, f"start {line}")
        time.sleep(WORK_SEC)
        append_line(ctx.run_id, EXECUTIONS, f"done {line}")

    run.__name__ = run.__qualname__ = name
    decorate: Callable[[Callable[..., Any]], AssetDefinition] = asset(
        namespace=NS,
        name=name,
        deps=[f"{NS}.{d}" for d in deps] or None,
        heartbeat_timeout_seconds=30,
        max_retries=5,
    )
    return decorate(run)


for _name, _deps in GRAPH.items():
    globals()[_name] = _define(_name, _deps)
