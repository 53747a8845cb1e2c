"""QueryService of the api: read-only SQL over published state and registered tables.

The engines live in :mod:`arco_core.query` (the only DataFusion user). They read through
the api's projection readers and its READER-role storage handle; sessions are cached per
manifest version inside the engines, so the servicer is a thin translation layer.
"""

from __future__ import annotations

from typing import TypeVar

from arco.query.v1 import query_service_pb2 as query_pb
from arco.query.v1 import query_service_pb2_grpc as query_grpc

from arco_core.query import (
    QueryData,
    QueryEngine,
    ReaderSnapshotProvider,
    ResultFormat,
)
from services.api.deps import ApiDeps
from services.common.server import RpcContext as Context

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


class QueryServicer(query_grpc.QueryServiceServicer):
    def __init__(self, deps: ApiDeps) -> None:
        provider = ReaderSnapshotProvider(
            {"orchestration": deps.orchestration.reader, "catalog": deps.catalog.reader}
        )
        self.engine = QueryEngine(provider)
        self.data = QueryData(provider, deps.reader_storage)

    async def Query(
        self, request: query_pb.QueryRequest, context: Context
    ) -> query_pb.QueryResponse:
        return await _run(self.engine, request, query_pb.QueryResponse)

    async def QueryData(
        self, request: query_pb.QueryDataRequest, context: Context
    ) -> query_pb.QueryDataResponse:
        return await _run(self.data, request, query_pb.QueryDataResponse)
