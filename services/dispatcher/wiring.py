"""Builds the dispatcher's parts from its configuration: one dispatch loop per served
scope (every registered scope of its shard), each with its own head stream and sender."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from arco.dispatch.v1 import dispatcher_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from arco_core.clock import SystemClock
from arco_core.orchestration.fold import FoldState
from arco_core.paths import Scope
from arco_core.registry import WorkspaceRegistry
from arco_core.storage import Role, open_object_store
from services.common.committer import orchestration_committer
from services.common.compactor_client import CompactorShards, parse_addresses
from services.common.head_follower import HeadFollower
from services.common.runner import BackgroundLoop, ServiceParts
from services.common.scopes import ServedScopes, register_dev_default
from services.common.sender import Sender
from services.common.sender_config import build_sender
from services.common.server import Registration
from services.dispatcher.config import DispatcherConfig
from services.dispatcher.loop import DispatchLoop
from services.dispatcher.servicer import DispatcherServicer


@dataclasses.dataclass
class DispatchScope:
    loop: DispatchLoop
    heads: HeadFollower[FoldState]
    sender: Sender

    @property
    def loops(self) -> Sequence[BackgroundLoop]:
        return (self.heads, self.loop)

    async def close(self) -> None:
        await self.sender.close()


async def build(
    config: DispatcherConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    store = open_object_store(config.common.storage_url, env, faults=config.common.storage_faults)
    clock = SystemClock()
    workspaces = WorkspaceRegistry(store, clock)
    await register_dev_default(config.common, workspaces)
    compactors = CompactorShards(parse_addresses(config.orch_compactor_address), config.common.tls)

    async def open_scope(scope: Scope) -> DispatchScope:
        compactor = compactors.client(scope)
        committer = orchestration_committer(store, scope, Role.DISPATCHER, compactor, clock)
        sender = build_sender(
            config.sender,
            scope,
            clock,
            config.common.tls,
            source=f"arco-dispatcher/{scope.tenant_id}/{scope.workspace_id}",
            concurrency=config.concurrency,
        )
        heads = HeadFollower(compactor, committer.reader)
        loop = DispatchLoop(committer, heads, sender, safety_tick_sec=config.safety_tick_sec)
        return DispatchScope(loop, heads, sender)

    served = ServedScopes(
        open_scope,
        workspaces,
        config.shard,
        refresh_sec=config.scope_refresh_sec,
        drain_sec=config.common.shutdown_grace_sec,
    )
    return ServiceParts(
        registrations=[
            Registration(
                pb_grpc.add_DispatcherServiceServicer_to_server,
                DispatcherServicer(served, config.common.default_scope, config.shard),
                "arco.dispatch.v1.DispatcherService",
            )
        ],
        loops=[served],
        close=compactors.close,
        ready_info={"shard": str(config.shard)},
    )
