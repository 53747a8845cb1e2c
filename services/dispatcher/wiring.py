"""Builds the dispatcher's parts from its configuration."""

from __future__ import annotations

from collections.abc import Mapping

from arco.dispatch.v1 import dispatcher_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from arco_core.clock import SystemClock
from arco_core.ledger import LedgerWriter
from arco_core.paths import Scope
from arco_core.projections import OrchestrationAdapter
from arco_core.published import ProjectionReader
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_core.tokens import TaskTokenSigner
from services.common.committer import EventCommitter
from services.common.compactor_client import CompactorClient
from services.common.dispatch import EnvelopeBuilder, build_adapter
from services.common.head_follower import HeadFollower
from services.common.runner import ServiceParts
from services.common.sender import Sender
from services.common.server import Registration
from services.dispatcher.config import DispatcherConfig
from services.dispatcher.loop import DispatchLoop
from services.dispatcher.servicer import DispatcherServicer


async def build(
    config: DispatcherConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    scope = Scope(config.common.tenant_id, config.common.workspace_id)
    store = open_object_store(config.common.storage_url, env)
    clock = SystemClock()
    compactor = CompactorClient(config.orch_compactor_address)
    committer = EventCommitter(
        LedgerWriter(ScopedStorage(store, scope, Role.DISPATCHER), "orchestration", clock),
        compactor,
        ProjectionReader(ScopedStorage(store, scope, Role.READER), OrchestrationAdapter(), scope),
    )
    adapter = build_adapter(
        config.adapter,
        config.worker_targets,
        config.worker_dispatch_secret,
        cloud_tasks=config.cloud_tasks,
    )
    signer = TaskTokenSigner(
        config.task_token_secret,
        config.task_token_issuer,
        config.task_token_audience,
        config.task_token_ttl_sec,
        clock,
    )
    sender = Sender(
        scope,
        clock,
        adapter,
        EnvelopeBuilder(scope, signer, config.callback_base_url),
        concurrency=config.concurrency,
        source=f"arco-dispatcher/{scope.tenant_id}/{scope.workspace_id}",
    )
    heads = HeadFollower(compactor, committer.reader)
    loop = DispatchLoop(committer, heads, sender, safety_tick_sec=config.safety_tick_sec)

    async def close() -> None:
        await adapter.close()
        await compactor.close()

    return ServiceParts(
        registrations=[
            Registration(
                pb_grpc.add_DispatcherServiceServicer_to_server,
                DispatcherServicer(loop, adapter.name),
                "arco.dispatch.v1.DispatcherService",
            )
        ],
        loops=[heads, loop],
        close=close,
    )
