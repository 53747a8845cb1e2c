"""Builds the compactor's parts from its configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry, Gauge

from arco_core.clock import SystemClock
from arco_core.compaction.engine import Compactor
from arco_core.compaction.group import GroupCommitter
from arco_core.compaction.peers import PeerHeads
from arco_core.compaction.retention import GarbageCollector, Retention
from arco_core.errors import StorageError
from arco_core.paths import Scope
from arco_core.projections import adapter_for
from arco_core.registry import WorkspaceRegistry
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_runtime.retry import RetryPolicy
from services.common.runner import ServiceParts
from services.common.scopes import OpenScopes, register_dev_default
from services.common.server import Registration
from services.compactor.config import CompactorConfig
from services.compactor.servicer import CompactorServicer, ScopeEngine

log = structlog.get_logger(__name__)

# Loading the published head is a read: a store that fails now and then (a restart into a
# flaky network) must not stop the compactor from starting.
OPEN_RETRY = RetryPolicy(initial_backoff_sec=0.1, max_backoff_sec=2.0, deadline_sec=60.0)


async def build(
    config: CompactorConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    store = open_object_store(config.common.storage_url, env, faults=config.common.storage_faults)
    clock = SystemClock()
    workspaces = WorkspaceRegistry(store, clock)
    await register_dev_default(config.common, workspaces)
    orchestration = config.domain == "orchestration"

    async def open_scope(scope: Scope) -> ScopeEngine:
        storage = ScopedStorage(store, scope, Role.COMPACTOR)
        engine = Compactor(
            storage,
            adapter_for(config.domain),
            l0_max_deltas=config.l0_max_deltas,
            # the sweeper repairs holes of the orchestration ledger only
            fold_records=orchestration,
        )
        await OPEN_RETRY.call_async(
            lambda _timeout: engine.open(),
            retry_if=lambda exc: isinstance(exc, StorageError),
            before_sleep=lambda state: log.warning(
                "compactor_open_retry",
                attempt=state.attempt_number,
                error=str(state.outcome.exception()) if state.outcome else None,
            ),
        )
        retention: Retention[Any] = Retention(
            expire=engine.expire,
            snapshot=lambda: engine.snapshot,
            collector=GarbageCollector(
                storage, config.domain, config.retention, clock, api_objects=orchestration
            ),
            policy=config.retention,
            clock=clock,
            active_run=lambda state, run_id: orchestration and state.run_unfinished(run_id),
        )
        committer = GroupCommitter(
            engine,
            max_batch_paths=config.max_batch_events,
            retention=retention,
            retention_interval_s=config.retention_interval_sec,
        )
        # A racing replica may publish while this one idles: adopt its heads.
        return ScopeEngine(engine, committer, PeerHeads(engine))

    scopes = OpenScopes(
        open_scope,
        workspaces,
        config.scope_limits,
        drain_sec=config.common.shutdown_grace_sec,
    )
    open_gauge = Gauge(
        "arco_compactor_open_scopes", "Scopes with an open engine.", ["domain"], registry=registry
    )
    open_gauge.labels(config.domain).set_function(lambda: float(len(scopes)))
    return ServiceParts(
        registrations=[
            Registration(
                pb_grpc.add_CompactorServiceServicer_to_server,
                CompactorServicer(
                    scopes,
                    domain=config.domain,
                    shard=config.shard,
                    default_scope=config.common.default_scope,
                ),
                "arco.compactor.v1.CompactorService",
            )
        ],
        loops=[scopes],
        ready_info={"domain": config.domain, "shard": str(config.shard)},
    )
