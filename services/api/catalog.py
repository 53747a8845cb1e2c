"""CatalogService of the api."""

from __future__ import annotations

from arco.catalog.v1 import catalog_service_pb2 as catalog_pb
from arco.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc

from services.api.deps import ApiDeps
from services.common.pending import not_implemented
from services.common.server import RpcContext as Context

_CATALOG = "the Tier-1 catalog write path (domain lock + catalog compactor)"


class CatalogServicer(catalog_grpc.CatalogServiceServicer):
    def __init__(self, deps: ApiDeps) -> None:
        self._deps = deps

    async def ListNamespaces(
        self, request: catalog_pb.ListNamespacesRequest, context: Context
    ) -> catalog_pb.ListNamespacesResponse:
        not_implemented("CatalogService.ListNamespaces", _CATALOG)

    async def CreateNamespace(
        self, request: catalog_pb.CreateNamespaceRequest, context: Context
    ) -> catalog_pb.CreateNamespaceResponse:
        not_implemented("CatalogService.CreateNamespace", _CATALOG)

    async def GetNamespace(
        self, request: catalog_pb.GetNamespaceRequest, context: Context
    ) -> catalog_pb.GetNamespaceResponse:
        not_implemented("CatalogService.GetNamespace", _CATALOG)

    async def DeleteNamespace(
        self, request: catalog_pb.DeleteNamespaceRequest, context: Context
    ) -> catalog_pb.DeleteNamespaceResponse:
        not_implemented("CatalogService.DeleteNamespace", _CATALOG)

    async def ListTables(
        self, request: catalog_pb.ListTablesRequest, context: Context
    ) -> catalog_pb.ListTablesResponse:
        not_implemented("CatalogService.ListTables", _CATALOG)

    async def RegisterTable(
        self, request: catalog_pb.RegisterTableRequest, context: Context
    ) -> catalog_pb.RegisterTableResponse:
        not_implemented("CatalogService.RegisterTable", _CATALOG)

    async def GetTable(
        self, request: catalog_pb.GetTableRequest, context: Context
    ) -> catalog_pb.GetTableResponse:
        not_implemented("CatalogService.GetTable", _CATALOG)

    async def UpdateTable(
        self, request: catalog_pb.UpdateTableRequest, context: Context
    ) -> catalog_pb.UpdateTableResponse:
        not_implemented("CatalogService.UpdateTable", _CATALOG)

    async def DropTable(
        self, request: catalog_pb.DropTableRequest, context: Context
    ) -> catalog_pb.DropTableResponse:
        not_implemented("CatalogService.DropTable", _CATALOG)

    async def ListCatalogs(
        self, request: catalog_pb.ListCatalogsRequest, context: Context
    ) -> catalog_pb.ListCatalogsResponse:
        not_implemented("CatalogService.ListCatalogs", _CATALOG)

    async def CreateCatalog(
        self, request: catalog_pb.CreateCatalogRequest, context: Context
    ) -> catalog_pb.CreateCatalogResponse:
        not_implemented("CatalogService.CreateCatalog", _CATALOG)

    async def GetCatalog(
        self, request: catalog_pb.GetCatalogRequest, context: Context
    ) -> catalog_pb.GetCatalogResponse:
        not_implemented("CatalogService.GetCatalog", _CATALOG)

    async def ListSchemas(
        self, request: catalog_pb.ListSchemasRequest, context: Context
    ) -> catalog_pb.ListSchemasResponse:
        not_implemented("CatalogService.ListSchemas", _CATALOG)

    async def CreateSchema(
        self, request: catalog_pb.CreateSchemaRequest, context: Context
    ) -> catalog_pb.CreateSchemaResponse:
        not_implemented("CatalogService.CreateSchema", _CATALOG)

    async def ListSchemaTables(
        self, request: catalog_pb.ListSchemaTablesRequest, context: Context
    ) -> catalog_pb.ListSchemaTablesResponse:
        not_implemented("CatalogService.ListSchemaTables", _CATALOG)

    async def RegisterSchemaTable(
        self, request: catalog_pb.RegisterSchemaTableRequest, context: Context
    ) -> catalog_pb.RegisterSchemaTableResponse:
        not_implemented("CatalogService.RegisterSchemaTable", _CATALOG)

    async def GetSchemaTable(
        self, request: catalog_pb.GetSchemaTableRequest, context: Context
    ) -> catalog_pb.GetSchemaTableResponse:
        not_implemented("CatalogService.GetSchemaTable", _CATALOG)

    async def AddLineageEdges(
        self, request: catalog_pb.AddLineageEdgesRequest, context: Context
    ) -> catalog_pb.AddLineageEdgesResponse:
        not_implemented("CatalogService.AddLineageEdges", _CATALOG)

    async def GetLineage(
        self, request: catalog_pb.GetLineageRequest, context: Context
    ) -> catalog_pb.GetLineageResponse:
        not_implemented("CatalogService.GetLineage", _CATALOG)
