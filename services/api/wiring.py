"""Builds the api's parts from its configuration."""

from __future__ import annotations

from collections.abc import Mapping

from arco.browser.v1 import browser_service_pb2_grpc as browser_grpc
from arco.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc
from arco.orchestration.v1 import task_callback_service_pb2_grpc as callback_grpc
from arco.query.v1 import query_service_pb2_grpc as query_grpc
from prometheus_client import CollectorRegistry

from arco_core.browser import LocalUrlSigner
from arco_core.clock import SystemClock
from arco_core.delta import DeltaCommits
from arco_core.ledger import LedgerWriter
from arco_core.locks import LeaseLock
from arco_core.paths import Scope
from arco_core.projections import CatalogAdapter, OrchestrationAdapter
from arco_core.published import ProjectionReader
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_core.tokens import TaskTokenSigner, TaskTokenVerifier
from services.api.auth import AuthInterceptor, CallerAuth
from services.api.callbacks import StartedFolds
from services.api.config import ApiConfig
from services.api.deps import ApiDeps
from services.api.servicers import (
    BrowserServicer,
    CatalogServicer,
    OrchestrationServicer,
    QueryServicer,
    TaskCallbackServicer,
)
from services.common.committer import EventCommitter
from services.common.compactor_client import CompactorClient
from services.common.head_follower import HeadFollower
from services.common.runner import ServiceParts
from services.common.server import Registration


def build_deps(config: ApiConfig, env: Mapping[str, str]) -> ApiDeps:
    scope = Scope(config.common.tenant_id, config.common.workspace_id)
    store = open_object_store(config.common.storage_url, env, faults=config.common.storage_faults)
    storage = ScopedStorage(store, scope, Role.API)
    reader_storage = ScopedStorage(store, scope, Role.READER)
    clock = SystemClock()
    orchestration = EventCommitter(
        LedgerWriter(storage, "orchestration", clock),
        CompactorClient(config.orch_compactor_address, config.common.tls),
        ProjectionReader(reader_storage, OrchestrationAdapter(), scope),
    )
    return ApiDeps(
        config=config,
        scope=scope,
        clock=clock,
        storage=storage,
        reader_storage=reader_storage,
        auth=CallerAuth(
            scope,
            config.identity_secret,
            clock,
            dev=config.dev,
            jwt=config.jwt,
            group_roles=config.group_roles,
        ),
        orchestration=orchestration,
        orchestration_heads=HeadFollower(orchestration.compactor, orchestration.reader),
        catalog=EventCommitter(
            LedgerWriter(storage, "catalog", clock),
            CompactorClient(config.catalog_compactor_address, config.common.tls),
            ProjectionReader(reader_storage, CatalogAdapter(), scope),
        ),
        catalog_lock=LeaseLock(storage, "catalog", clock),
        delta=DeltaCommits(ScopedStorage(store, scope, Role.DELTA), clock),
        task_tokens=TaskTokenVerifier(
            config.task_token_secret,
            config.task_token_issuer,
            config.task_token_audience,
            clock,
            leeway=config.task_token_leeway_sec,
        ),
        task_token_signer=TaskTokenSigner(
            config.task_token_secret,
            config.task_token_issuer,
            config.task_token_audience,
            config.task_token_ttl_sec,
            clock,
        ),
        url_signer=(
            LocalUrlSigner(config.browser_url_secret, config.browser_url_base)
            if config.browser_url_secret
            else None
        ),
    )


async def build(
    config: ApiConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    deps = build_deps(config, env)
    started_folds = StartedFolds(deps.orchestration, deps.orchestration_heads)
    query = QueryServicer(deps)

    async def close() -> None:
        await started_folds.drain()
        await query.pool.shutdown()  # idempotent: also a loop, shut down before close
        await deps.close()

    return ServiceParts(
        registrations=[
            Registration(
                orch_grpc.add_OrchestrationServiceServicer_to_server,
                OrchestrationServicer(deps, started_folds),
                "arco.orchestration.v1.OrchestrationService",
            ),
            Registration(
                callback_grpc.add_TaskCallbackServiceServicer_to_server,
                TaskCallbackServicer(deps, started_folds),
                "arco.orchestration.v1.TaskCallbackService",
            ),
            Registration(
                catalog_grpc.add_CatalogServiceServicer_to_server,
                CatalogServicer(deps),
                "arco.catalog.v1.CatalogService",
            ),
            Registration(
                query_grpc.add_QueryServiceServicer_to_server,
                query,
                "arco.query.v1.QueryService",
            ),
            Registration(
                browser_grpc.add_BrowserServiceServicer_to_server,
                BrowserServicer(deps),
                "arco.browser.v1.BrowserService",
            ),
        ],
        interceptors=[AuthInterceptor(deps.auth)],
        loops=[deps.orchestration_heads, query.pool],
        close=close,
    )
