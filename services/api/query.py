"""QueryService of the api."""

from __future__ import annotations

from arco.query.v1 import query_service_pb2 as query_pb
from arco.query.v1 import query_service_pb2_grpc as query_grpc

from services.api.deps import ApiDeps
from services.common.pending import not_implemented
from services.common.server import RpcContext as Context

_QUERY = "read-only DataFusion SQL over published manifests"


class QueryServicer(query_grpc.QueryServiceServicer):
    def __init__(self, deps: ApiDeps) -> None:
        self._deps = deps

    async def Query(
        self, request: query_pb.QueryRequest, context: Context
    ) -> query_pb.QueryResponse:
        not_implemented("QueryService.Query", _QUERY)

    async def QueryData(
        self, request: query_pb.QueryDataRequest, context: Context
    ) -> query_pb.QueryDataResponse:
        not_implemented("QueryService.QueryData", _QUERY)
