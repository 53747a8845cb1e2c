"""Builds the api's parts from its configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog
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
from arco_core.query.pool import QueryPool
from arco_core.registry import WorkspaceRegistry
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_core.tokens import TaskTokenSigner, TaskTokenVerifier
from services.api.auth import AuthInterceptor, CallerAuth
from services.api.callback_limits import CallbackLimits
from services.api.callbacks import StartedFolds
from services.api.config import ApiConfig
from services.api.deps import ApiDeps
from services.api.query import query_pool
from services.api.scoped import CallScope, ScopeServices, routed
from services.api.servicers import (
    BrowserServicer,
    CatalogServicer,
    OrchestrationServicer,
    QueryServicer,
    TaskCallbackServicer,
)
from services.api.workspaces import WorkspaceRpcs
from services.common.committer import EventCommitter
from services.common.compactor_client import CompactorShards, parse_addresses
from services.common.head_follower import HeadFollower
from services.common.runner import ServiceParts
from services.common.scopes import OpenScopes, register_dev_default
from services.common.server import Registration

if TYPE_CHECKING:
    from obstore.store import ObjectStore

    from arco_core.storage_faults import FaultyStore

log = structlog.get_logger(__name__)

ORCH_SVC = "arco.orchestration.v1.OrchestrationService"
CALLBACK_SVC = "arco.orchestration.v1.TaskCallbackService"
CATALOG_SVC = "arco.catalog.v1.CatalogService"
QUERY_SVC = "arco.query.v1.QueryService"
BROWSER_SVC = "arco.browser.v1.BrowserService"


@dataclasses.dataclass
class ApiShared:
    """What every scope of the process shares: the store, the compactor channels, the
    token keys, the query workers and the callback limits."""

    config: ApiConfig
    clock: SystemClock
    store: ObjectStore | FaultyStore
    orch_compactors: CompactorShards
    catalog_compactors: CompactorShards
    task_tokens: TaskTokenVerifier
    task_token_signer: TaskTokenSigner
    url_signer: LocalUrlSigner | None
    query_pool: QueryPool
    callback_limits: CallbackLimits

    async def close(self) -> None:
        await self.orch_compactors.close()
        await self.catalog_compactors.close()


def build_shared(config: ApiConfig, env: Mapping[str, str]) -> ApiShared:
    clock = SystemClock()
    return ApiShared(
        config=config,
        clock=clock,
        store=open_object_store(
            config.common.storage_url, env, faults=config.common.storage_faults
        ),
        orch_compactors=CompactorShards(
            parse_addresses(config.orch_compactor_address), config.common.tls
        ),
        catalog_compactors=CompactorShards(
            parse_addresses(config.catalog_compactor_address), config.common.tls
        ),
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
        query_pool=query_pool(config.query, drain_s=config.common.shutdown_grace_sec),
        callback_limits=CallbackLimits(config.callback_limits),
    )


def build_deps(shared: ApiShared, scope: Scope) -> ApiDeps:
    """One scope's deps, over the shared store and compactor channels."""
    store, clock = shared.store, shared.clock
    storage = ScopedStorage(store, scope, Role.API)
    reader_storage = ScopedStorage(store, scope, Role.READER)
    orchestration = EventCommitter(
        LedgerWriter(storage, "orchestration", clock),
        shared.orch_compactors.client(scope),
        ProjectionReader(reader_storage, OrchestrationAdapter(), scope),
    )
    return ApiDeps(
        config=shared.config,
        scope=scope,
        clock=clock,
        storage=storage,
        reader_storage=reader_storage,
        orchestration=orchestration,
        orchestration_heads=HeadFollower(orchestration.compactor, orchestration.reader),
        catalog=EventCommitter(
            LedgerWriter(storage, "catalog", clock),
            shared.catalog_compactors.client(scope),
            ProjectionReader(reader_storage, CatalogAdapter(), scope),
        ),
        catalog_lock=LeaseLock(storage, "catalog", clock),
        delta=DeltaCommits(ScopedStorage(store, scope, Role.DELTA), clock),
        task_tokens=shared.task_tokens,
        task_token_signer=shared.task_token_signer,
        url_signer=shared.url_signer,
    )


def open_scope(shared: ApiShared, scope: Scope) -> ScopeServices:
    deps = build_deps(shared, scope)
    started_folds = StartedFolds(deps.orchestration, deps.orchestration_heads)
    return ScopeServices(
        deps=deps,
        started_folds=started_folds,
        servicers={
            ORCH_SVC: OrchestrationServicer(deps, started_folds),
            CALLBACK_SVC: TaskCallbackServicer(deps, started_folds, shared.callback_limits),
            CATALOG_SVC: CatalogServicer(deps),
            QUERY_SVC: QueryServicer(deps, shared.query_pool),
            BROWSER_SVC: BrowserServicer(deps),
        },
    )


async def build(
    config: ApiConfig, registry: CollectorRegistry, env: Mapping[str, str]
) -> ServiceParts:
    shared = build_shared(config, env)
    if shared.task_tokens.short_key:
        log.warning(
            "task_token_secret_short",
            hint="ARCO_TASK_TOKEN_SECRET is below 32 bytes (RFC 7518 3.2); use a longer one",
        )
    workspaces = WorkspaceRegistry(shared.store, shared.clock)
    await register_dev_default(config.common, workspaces)

    async def open_parts(scope: Scope) -> ScopeServices:
        return open_scope(shared, scope)

    scopes = OpenScopes(
        open_parts, workspaces, config.scope_limits, drain_sec=config.common.shutdown_grace_sec
    )
    call_scope = CallScope(shared.task_tokens, shared.callback_limits)
    auth = CallerAuth(
        config.common.default_scope,
        config.identity_secret,
        shared.clock,
        dev=config.dev,
        jwt=config.jwt,
        group_roles=config.group_roles,
    )

    def route(base: type[Any], service: str, unscoped: object | None = None) -> Any:
        return routed(base, service, scopes, call_scope, unscoped=unscoped)

    async def close() -> None:
        await scopes.close_all()
        await shared.query_pool.shutdown()  # idempotent: also a loop, shut down before close
        await shared.close()

    return ServiceParts(
        registrations=[
            Registration(
                orch_grpc.add_OrchestrationServiceServicer_to_server,
                route(orch_grpc.OrchestrationServiceServicer, ORCH_SVC, WorkspaceRpcs(workspaces)),
                ORCH_SVC,
            ),
            Registration(
                callback_grpc.add_TaskCallbackServiceServicer_to_server,
                route(callback_grpc.TaskCallbackServiceServicer, CALLBACK_SVC),
                CALLBACK_SVC,
            ),
            Registration(
                catalog_grpc.add_CatalogServiceServicer_to_server,
                route(catalog_grpc.CatalogServiceServicer, CATALOG_SVC),
                CATALOG_SVC,
            ),
            Registration(
                query_grpc.add_QueryServiceServicer_to_server,
                route(query_grpc.QueryServiceServicer, QUERY_SVC),
                QUERY_SVC,
            ),
            Registration(
                browser_grpc.add_BrowserServiceServicer_to_server,
                route(browser_grpc.BrowserServiceServicer, BROWSER_SVC),
                BROWSER_SVC,
            ),
        ],
        interceptors=[AuthInterceptor(auth, scopes.require)],
        loops=[scopes, shared.query_pool],
        close=close,
    )
