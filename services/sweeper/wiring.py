"""Builds the sweeper's parts from its configuration."""

from __future__ import annotations

from collections.abc import Mapping

from arco.sweeper.v1 import sweeper_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from arco_core.clock import SystemClock
from arco_core.fold_records import FoldRecordIndex
from arco_core.ledger import LedgerReader
from arco_core.orchestration.decisions import SweepThresholds
from arco_core.paths import Scope
from arco_core.storage import Role, ScopedStorage, open_object_store
from services.common.committer import orchestration_committer
from services.common.compactor_client import CompactorClient
from services.common.runner import ServiceParts
from services.common.sender_config import build_sender
from services.common.server import Registration
from services.sweeper.config import SweeperConfig
from services.sweeper.loop import SweepLoop
from services.sweeper.servicer import SweeperServicer


async def build(
    config: SweeperConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    scope = Scope(config.common.tenant_id, config.common.workspace_id)
    store = open_object_store(config.common.storage_url, env, faults=config.common.storage_faults)
    clock = SystemClock()
    storage = ScopedStorage(store, scope, Role.SWEEPER)  # the only role that may list
    compactor = CompactorClient(config.orch_compactor_address, config.common.tls)
    committer = orchestration_committer(store, scope, Role.SWEEPER, compactor, clock)
    sender = build_sender(
        config.sender,
        scope,
        clock,
        config.common.tls,
        source=f"arco-sweeper/{scope.tenant_id}/{scope.workspace_id}",
    )
    thresholds = SweepThresholds(
        ready_timeout_ms=int(config.ready_timeout_sec * 1000),
        dispatch_timeout_ms=int(config.dispatch_timeout_sec * 1000),
        running_grace_ms=int(config.running_grace_sec * 1000),
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

    async def close() -> None:
        await sender.close()
        await compactor.close()

    return ServiceParts(
        registrations=[
            Registration(
                pb_grpc.add_SweeperServiceServicer_to_server,
                SweeperServicer(loop),
                "arco.sweeper.v1.SweeperService",
            )
        ],
        loops=[loop],
        close=close,
    )
