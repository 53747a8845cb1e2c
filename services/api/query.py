"""QueryService of the api: read-only SQL over published state and registered tables.

The engines live in :mod:`arco_core.query` (the only DataFusion user). They read through
the api's projection readers and its READER-role storage handle and run every query in the
api's :class:`~arco_core.query.pool.QueryPool` of worker processes
(``python -m services.api.query_worker``), under the memory cap and time limit of
:mod:`services.api.query_config`; the pool is a background loop of the api (started with
it, shut down on SIGTERM). The servicer is a thin translation layer.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar

from arco.query.v1 import query_service_pb2 as query_pb
from arco.query.v1 import query_service_pb2_grpc as query_grpc

from arco_core.query import (
    QueryData,
    QueryEngine,
    QueryLimits,
    ReaderSnapshotProvider,
    ResultFormat,
)
from arco_core.query.pool import QueryPool, worker_env
from services.api.deps import ApiDeps
from services.api.query_config import QueryConfig
from services.common.server import RpcContext as Context

# Where ``services`` is importable from (a source checkout run with ``python -m``).
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])
WORKER_COMMAND = (sys.executable, "-m", "services.api.query_worker")

# Query (system tables) and QueryData (registered tables) share one request and answer shape.
_Response = TypeVar("_Response", query_pb.QueryResponse, query_pb.QueryDataResponse)


def _format(value: int) -> ResultFormat:
    return ResultFormat.JSON if value == query_pb.RESULT_FORMAT_JSON else ResultFormat.ARROW


async def _run(
    engine: QueryEngine | QueryData,
    request: query_pb.QueryRequest | query_pb.QueryDataRequest,
    response: type[_Response],
) -> _Response:
    as_of = request.as_of if request.HasField("as_of") else None
    result = await engine.query(request.sql, _format(request.format), as_of=as_of)
    return response(
        data=result.data,
        content_type=result.content_type,
        row_count=result.row_count,
        truncated=result.truncated,
        state_versions=result.state_versions,
    )


def query_pool(config: QueryConfig, *, drain_s: float = 5.0) -> QueryPool:
    """The api's pool of query worker processes (started by its ``run``)."""
    return QueryPool(
        WORKER_COMMAND,
        size=config.workers,
        memory_bytes=config.worker_memory_bytes,
        timeout_s=config.timeout_sec,
        env=worker_env(python_path=[_SOURCE_ROOT]),
        drain_s=drain_s,
    )


def query_limits(config: QueryConfig) -> QueryLimits:
    """The engines' limits: the time limit, and DataFusion's own pool well inside the cap."""
    default = QueryLimits()
    return QueryLimits(
        timeout_s=config.timeout_sec,
        memory_bytes=min(default.memory_bytes, config.worker_memory_bytes // 4),
    )


class QueryServicer(query_grpc.QueryServiceServicer):
    def __init__(self, deps: ApiDeps, pool: QueryPool) -> None:
        config = deps.config.query
        # One cache of loaded states for both engines.
        provider = ReaderSnapshotProvider(
            {"orchestration": deps.orchestration.reader, "catalog": deps.catalog.reader},
            max_entries=config.state_cache_entries,
            max_rows=config.state_cache_rows,
        )
        limits = query_limits(config)
        # The process's worker pool, shared by every scope (services/api/wiring.py).
        self.pool = pool
        self.engine = QueryEngine(provider, limits, pool=self.pool)
        self.data = QueryData(provider, deps.reader_storage, limits, pool=self.pool)

    async def Query(
        self, request: query_pb.QueryRequest, context: Context
    ) -> query_pb.QueryResponse:
        return await _run(self.engine, request, query_pb.QueryResponse)

    async def QueryData(
        self, request: query_pb.QueryDataRequest, context: Context
    ) -> query_pb.QueryDataResponse:
        return await _run(self.data, request, query_pb.QueryDataResponse)
