"""Builds the automation service's parts from its configuration."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry

from arco_core.clock import Clock, SystemClock, WarpedClock
from arco_core.paths import Scope
from arco_core.storage import Role, open_object_store
from services.automation.backfill_loop import BackfillLoop
from services.automation.config import AutomationConfig
from services.automation.loop import ScheduleLoop
from services.automation.sensor_loop import SensorLoop
from services.common.committer import orchestration_committer
from services.common.compactor_client import CompactorClient
from services.common.head_follower import HeadFollower
from services.common.runner import ServiceParts


def build_clock(config: AutomationConfig) -> Clock:
    if not config.clock_warped:
        return SystemClock()
    return WarpedClock(config.clock_start_ms or SystemClock().now_ms(), config.clock_rate)


async def build(
    config: AutomationConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    scope = Scope(config.common.tenant_id, config.common.workspace_id)
    store = open_object_store(config.common.storage_url, env, faults=config.common.storage_faults)
    compactor = CompactorClient(config.orch_compactor_address, config.common.tls)
    # The ledger keeps real time: a warped clock only decides which ticks are due.
    committer = orchestration_committer(store, scope, Role.AUTOMATION, compactor, SystemClock())
    heads = HeadFollower(compactor, committer.reader)
    clock = build_clock(config)
    loop = ScheduleLoop(
        committer,
        heads,
        scope,
        clock,
        safety_tick_sec=config.safety_tick_sec,
        clock_rate=config.clock_rate,
        registry=registry,
    )
    backfills = BackfillLoop(committer, heads, scope, safety_tick_sec=config.safety_tick_sec)
    sensors = SensorLoop(committer, heads, scope, clock, safety_tick_sec=config.safety_tick_sec)
    return ServiceParts(
        registrations=[], loops=[heads, loop, backfills, sensors], close=compactor.close
    )
