"""Builds the sweeper's parts from its configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from arco.sweeper.v1 import sweeper_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from arco_core.clock import SystemClock
from arco_core.fold_records import FoldRecordIndex
from arco_core.ledger import LedgerReader
from arco_core.orchestration.decisions import SweepThresholds
from arco_core.paths import Scope
from arco_core.registry import WorkspaceRegistry
from arco_core.storage import Role, ScopedStorage, open_object_store
from services.common.committer import orchestration_committer
from services.common.compactor_client import CompactorShards, parse_addresses
from services.common.runner import BackgroundLoop, ServiceParts
from services.common.scopes import ServedScopes, register_dev_default
from services.common.sender import Sender
from services.common.sender_config import build_sender
from services.common.server import Registration
from services.sweeper.config import SweeperConfig
from services.sweeper.loop import SweepLoop
from services.sweeper.servicer import SweeperServicer


@dataclasses.dataclass
class SweepScope:
    loop: SweepLoop
    sender: Sender

    @property
    def loops(self) -> Sequence[BackgroundLoop]:
        return (self.loop,)

    async def close(self) -> None:
        await self.sender.close()


async def build(
    config: SweeperConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    store = open_object_store(config.common.storage_url, env, faults=config.common.storage_faults)
    clock = SystemClock()
    workspaces = WorkspaceRegistry(store, clock)
    await register_dev_default(config.common, workspaces)
    compactors = CompactorShards(parse_addresses(config.orch_compactor_address), config.common.tls)
    thresholds = SweepThresholds(
        ready_timeout_ms=int(config.ready_timeout_sec * 1000),
        dispatch_timeout_ms=int(config.dispatch_timeout_sec * 1000),
        running_grace_ms=int(config.running_grace_sec * 1000),
    )

    async def open_scope(scope: Scope) -> SweepScope:
        storage = ScopedStorage(store, scope, Role.SWEEPER)  # the only role that may list
        compactor = compactors.client(scope)
        committer = orchestration_committer(store, scope, Role.SWEEPER, compactor, clock)
        sender = build_sender(
            config.sender,
            scope,
            clock,
            config.common.tls,
            source=f"arco-sweeper/{scope.tenant_id}/{scope.workspace_id}",
        )
        loop = SweepLoop(
            committer,
            LedgerReader(storage, "orchestration"),
            sender,
            clock,
            thresholds,
            fold_records=FoldRecordIndex(storage, "orchestration"),
            interval_sec=config.sweep_interval_sec,
            lookback_ms=int(config.lookback_sec * 1000),
        )
        return SweepScope(loop, sender)

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
                pb_grpc.add_SweeperServiceServicer_to_server,
                SweeperServicer(served, config.common.default_scope, config.shard),
                "arco.sweeper.v1.SweeperService",
            )
        ],
        loops=[served],
        close=compactors.close,
        ready_info={"shard": str(config.shard)},
    )
