"""Builds the automation service's parts from its configuration: schedule, backfill and
sensor loops for every served scope (every registered scope of its shard)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry

from arco_core.clock import Clock, SystemClock, WarpedClock
from arco_core.paths import Scope
from arco_core.registry import WorkspaceRegistry
from arco_core.storage import Role, open_object_store
from services.automation.backfill_loop import BackfillLoop
from services.automation.config import AutomationConfig
from services.automation.loop import ScheduleLoop, ScheduleMetrics
from services.automation.sensor_loop import SensorLoop
from services.common.committer import orchestration_committer
from services.common.compactor_client import CompactorShards, parse_addresses
from services.common.head_follower import HeadFollower
from services.common.runner import BackgroundLoop, ServiceParts
from services.common.scopes import ServedScopes, register_dev_default


def build_clock(config: AutomationConfig) -> Clock:
    if not config.clock_warped:
        return SystemClock()
    return WarpedClock(config.clock_start_ms or SystemClock().now_ms(), config.clock_rate)


@dataclasses.dataclass
class AutomationScope:
    loops: Sequence[BackgroundLoop]

    async def close(self) -> None:
        return None


async def build(
    config: AutomationConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    store = open_object_store(config.common.storage_url, env, faults=config.common.storage_faults)
    workspaces = WorkspaceRegistry(store, SystemClock())
    await register_dev_default(config.common, workspaces)
    compactors = CompactorShards(parse_addresses(config.orch_compactor_address), config.common.tls)
    clock = build_clock(config)
    metrics = ScheduleMetrics(registry)

    async def open_scope(scope: Scope) -> AutomationScope:
        compactor = compactors.client(scope)
        # The ledger keeps real time: a warped clock only decides which ticks are due.
        committer = orchestration_committer(store, scope, Role.AUTOMATION, compactor, SystemClock())
        heads = HeadFollower(compactor, committer.reader)
        tick = config.safety_tick_sec
        loop = ScheduleLoop(
            committer,
            heads,
            scope,
            clock,
            safety_tick_sec=tick,
            clock_rate=config.clock_rate,
            metrics=metrics,
        )
        backfills = BackfillLoop(committer, heads, scope, safety_tick_sec=tick)
        sensors = SensorLoop(committer, heads, scope, clock, safety_tick_sec=tick)
        return AutomationScope((heads, loop, backfills, sensors))

    served = ServedScopes(
        open_scope,
        workspaces,
        config.shard,
        refresh_sec=config.scope_refresh_sec,
        drain_sec=config.common.shutdown_grace_sec,
    )
    return ServiceParts(
        registrations=[],
        loops=[served],
        close=compactors.close,
        ready_info={"shard": str(config.shard)},
    )
