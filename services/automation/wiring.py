"""Builds the automation service's parts from its configuration."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry

from arco_core.clock import SystemClock
from arco_core.paths import Scope
from arco_core.storage import Role, open_object_store
from services.automation.config import AutomationConfig
from services.automation.loop import ScheduleLoop
from services.automation.sensor_loop import SensorLoop
from services.common.committer import orchestration_committer
from services.common.compactor_client import CompactorClient
from services.common.head_follower import HeadFollower
from services.common.runner import ServiceParts


async def build(
    config: AutomationConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    scope = Scope(config.common.tenant_id, config.common.workspace_id)
    store = open_object_store(config.common.storage_url, env, faults=config.common.storage_faults)
    clock = SystemClock()
    compactor = CompactorClient(config.orch_compactor_address, config.common.tls)
    committer = orchestration_committer(store, scope, Role.AUTOMATION, compactor, clock)
    heads = HeadFollower(compactor, committer.reader)
    loop = ScheduleLoop(committer, heads, scope, clock, safety_tick_sec=config.safety_tick_sec)
    sensors = SensorLoop(committer, heads, scope, clock, safety_tick_sec=config.safety_tick_sec)
    return ServiceParts(registrations=[], loops=[heads, loop, sensors], close=compactor.close)
