"""The api's public gRPC services.

Each servicer method parses the request, calls the domain and converts back. RPCs whose
capability has not landed answer UNIMPLEMENTED naming what is missing.
"""

from __future__ import annotations

from typing import NoReturn

from arco.browser.v1 import browser_service_pb2 as browser_pb
from arco.browser.v1 import browser_service_pb2_grpc as browser_grpc
from arco.catalog.v1 import catalog_service_pb2 as catalog_pb
from arco.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from arco.orchestration.v1 import task_callback_service_pb2_grpc as callback_grpc
from arco.query.v1 import query_service_pb2 as query_pb
from arco.query.v1 import query_service_pb2_grpc as query_grpc

from services.common.pending import not_implemented
from services.common.server import RpcContext as Context

_ORCHESTRATION = "the orchestration write path (ledger events folded by the compactor)"
_CALLBACKS = "worker callback validation against the orchestration projection"
_CATALOG = "the Tier-1 catalog write path (domain lock + catalog compactor)"
_QUERY = "read-only DataFusion SQL over published manifests"
_BROWSER = "signed URLs over files listed by the current manifest"


def _pending(rpc: str, missing: str) -> NoReturn:
    not_implemented(rpc, missing)


class OrchestrationServicer(orch_grpc.OrchestrationServiceServicer):
    async def DeployManifest(
        self, request: orch_pb.DeployManifestRequest, context: Context
    ) -> orch_pb.DeployManifestResponse:
        _pending("OrchestrationService.DeployManifest", _ORCHESTRATION)

    async def ListManifests(
        self, request: orch_pb.ListManifestsRequest, context: Context
    ) -> orch_pb.ListManifestsResponse:
        _pending("OrchestrationService.ListManifests", _ORCHESTRATION)

    async def GetManifest(
        self, request: orch_pb.GetManifestRequest, context: Context
    ) -> orch_pb.GetManifestResponse:
        _pending("OrchestrationService.GetManifest", _ORCHESTRATION)

    async def TriggerRun(
        self, request: orch_pb.TriggerRunRequest, context: Context
    ) -> orch_pb.TriggerRunResponse:
        _pending("OrchestrationService.TriggerRun", _ORCHESTRATION)

    async def GetRun(
        self, request: orch_pb.GetRunRequest, context: Context
    ) -> orch_pb.GetRunResponse:
        _pending("OrchestrationService.GetRun", _ORCHESTRATION)

    async def ListRuns(
        self, request: orch_pb.ListRunsRequest, context: Context
    ) -> orch_pb.ListRunsResponse:
        _pending("OrchestrationService.ListRuns", _ORCHESTRATION)

    async def CancelRun(
        self, request: orch_pb.CancelRunRequest, context: Context
    ) -> orch_pb.CancelRunResponse:
        _pending("OrchestrationService.CancelRun", _ORCHESTRATION)

    async def RerunRun(
        self, request: orch_pb.RerunRunRequest, context: Context
    ) -> orch_pb.RerunRunResponse:
        _pending("OrchestrationService.RerunRun", _ORCHESTRATION)

    async def UploadTaskLogs(
        self, request: orch_pb.UploadTaskLogsRequest, context: Context
    ) -> orch_pb.UploadTaskLogsResponse:
        _pending("OrchestrationService.UploadTaskLogs", _ORCHESTRATION)

    async def GetRunLogs(
        self, request: orch_pb.GetRunLogsRequest, context: Context
    ) -> orch_pb.GetRunLogsResponse:
        _pending("OrchestrationService.GetRunLogs", _ORCHESTRATION)


class TaskCallbackServicer(callback_grpc.TaskCallbackServiceServicer):
    async def TaskStarted(
        self, request: callback_pb.TaskStartedRequest, context: Context
    ) -> callback_pb.TaskStartedResponse:
        _pending("TaskCallbackService.TaskStarted", _CALLBACKS)

    async def TaskHeartbeat(
        self, request: callback_pb.TaskHeartbeatRequest, context: Context
    ) -> callback_pb.TaskHeartbeatResponse:
        _pending("TaskCallbackService.TaskHeartbeat", _CALLBACKS)

    async def TaskCompleted(
        self, request: callback_pb.TaskCompletedRequest, context: Context
    ) -> callback_pb.TaskCompletedResponse:
        _pending("TaskCallbackService.TaskCompleted", _CALLBACKS)


class CatalogServicer(catalog_grpc.CatalogServiceServicer):
    async def ListNamespaces(
        self, request: catalog_pb.ListNamespacesRequest, context: Context
    ) -> catalog_pb.ListNamespacesResponse:
        _pending("CatalogService.ListNamespaces", _CATALOG)

    async def CreateNamespace(
        self, request: catalog_pb.CreateNamespaceRequest, context: Context
    ) -> catalog_pb.CreateNamespaceResponse:
        _pending("CatalogService.CreateNamespace", _CATALOG)

    async def GetNamespace(
        self, request: catalog_pb.GetNamespaceRequest, context: Context
    ) -> catalog_pb.GetNamespaceResponse:
        _pending("CatalogService.GetNamespace", _CATALOG)

    async def DeleteNamespace(
        self, request: catalog_pb.DeleteNamespaceRequest, context: Context
    ) -> catalog_pb.DeleteNamespaceResponse:
        _pending("CatalogService.DeleteNamespace", _CATALOG)

    async def ListTables(
        self, request: catalog_pb.ListTablesRequest, context: Context
    ) -> catalog_pb.ListTablesResponse:
        _pending("CatalogService.ListTables", _CATALOG)

    async def RegisterTable(
        self, request: catalog_pb.RegisterTableRequest, context: Context
    ) -> catalog_pb.RegisterTableResponse:
        _pending("CatalogService.RegisterTable", _CATALOG)

    async def GetTable(
        self, request: catalog_pb.GetTableRequest, context: Context
    ) -> catalog_pb.GetTableResponse:
        _pending("CatalogService.GetTable", _CATALOG)

    async def UpdateTable(
        self, request: catalog_pb.UpdateTableRequest, context: Context
    ) -> catalog_pb.UpdateTableResponse:
        _pending("CatalogService.UpdateTable", _CATALOG)

    async def DropTable(
        self, request: catalog_pb.DropTableRequest, context: Context
    ) -> catalog_pb.DropTableResponse:
        _pending("CatalogService.DropTable", _CATALOG)

    async def ListCatalogs(
        self, request: catalog_pb.ListCatalogsRequest, context: Context
    ) -> catalog_pb.ListCatalogsResponse:
        _pending("CatalogService.ListCatalogs", _CATALOG)

    async def CreateCatalog(
        self, request: catalog_pb.CreateCatalogRequest, context: Context
    ) -> catalog_pb.CreateCatalogResponse:
        _pending("CatalogService.CreateCatalog", _CATALOG)

    async def GetCatalog(
        self, request: catalog_pb.GetCatalogRequest, context: Context
    ) -> catalog_pb.GetCatalogResponse:
        _pending("CatalogService.GetCatalog", _CATALOG)

    async def ListSchemas(
        self, request: catalog_pb.ListSchemasRequest, context: Context
    ) -> catalog_pb.ListSchemasResponse:
        _pending("CatalogService.ListSchemas", _CATALOG)

    async def CreateSchema(
        self, request: catalog_pb.CreateSchemaRequest, context: Context
    ) -> catalog_pb.CreateSchemaResponse:
        _pending("CatalogService.CreateSchema", _CATALOG)

    async def ListSchemaTables(
        self, request: catalog_pb.ListSchemaTablesRequest, context: Context
    ) -> catalog_pb.ListSchemaTablesResponse:
        _pending("CatalogService.ListSchemaTables", _CATALOG)

    async def RegisterSchemaTable(
        self, request: catalog_pb.RegisterSchemaTableRequest, context: Context
    ) -> catalog_pb.RegisterSchemaTableResponse:
        _pending("CatalogService.RegisterSchemaTable", _CATALOG)

    async def GetSchemaTable(
        self, request: catalog_pb.GetSchemaTableRequest, context: Context
    ) -> catalog_pb.GetSchemaTableResponse:
        _pending("CatalogService.GetSchemaTable", _CATALOG)

    async def AddLineageEdges(
        self, request: catalog_pb.AddLineageEdgesRequest, context: Context
    ) -> catalog_pb.AddLineageEdgesResponse:
        _pending("CatalogService.AddLineageEdges", _CATALOG)

    async def GetLineage(
        self, request: catalog_pb.GetLineageRequest, context: Context
    ) -> catalog_pb.GetLineageResponse:
        _pending("CatalogService.GetLineage", _CATALOG)


class QueryServicer(query_grpc.QueryServiceServicer):
    async def Query(
        self, request: query_pb.QueryRequest, context: Context
    ) -> query_pb.QueryResponse:
        _pending("QueryService.Query", _QUERY)

    async def QueryData(
        self, request: query_pb.QueryDataRequest, context: Context
    ) -> query_pb.QueryDataResponse:
        _pending("QueryService.QueryData", _QUERY)


class BrowserServicer(browser_grpc.BrowserServiceServicer):
    async def MintUrls(
        self, request: browser_pb.MintUrlsRequest, context: Context
    ) -> browser_pb.MintUrlsResponse:
        _pending("BrowserService.MintUrls", _BROWSER)

    async def ListBrowsableFiles(
        self, request: browser_pb.ListBrowsableFilesRequest, context: Context
    ) -> browser_pb.ListBrowsableFilesResponse:
        _pending("BrowserService.ListBrowsableFiles", _BROWSER)
