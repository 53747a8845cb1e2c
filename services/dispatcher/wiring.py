"""Builds the dispatcher's parts from its configuration."""

from __future__ import annotations

from collections.abc import Mapping

from arco.dispatch.v1 import dispatcher_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from arco_core.clock import SystemClock
from arco_core.paths import Scope
from arco_core.storage import Role, open_object_store
from services.common.committer import orchestration_committer
from services.common.compactor_client import CompactorClient
from services.common.head_follower import HeadFollower
from services.common.runner import ServiceParts
from services.common.sender_config import build_sender
from services.common.server import Registration
from services.dispatcher.config import DispatcherConfig
from services.dispatcher.loop import DispatchLoop
from services.dispatcher.servicer import DispatcherServicer


async def build(
    config: DispatcherConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    scope = Scope(config.common.tenant_id, config.common.workspace_id)
    store = open_object_store(config.common.storage_url, env, faults=config.common.storage_faults)
    clock = SystemClock()
    compactor = CompactorClient(config.orch_compactor_address, config.common.tls)
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

    async def close() -> None:
        await sender.close()
        await compactor.close()

    return ServiceParts(
        registrations=[
            Registration(
                pb_grpc.add_DispatcherServiceServicer_to_server,
                DispatcherServicer(loop, sender.adapter_name),
                "arco.dispatch.v1.DispatcherService",
            )
        ],
        loops=[heads, loop],
        close=close,
    )
