"""Builds the api's parts from its configuration."""

from __future__ import annotations

from arco.browser.v1 import browser_service_pb2_grpc as browser_grpc
from arco.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc
from arco.orchestration.v1 import task_callback_service_pb2_grpc as callback_grpc
from arco.query.v1 import query_service_pb2_grpc as query_grpc
from prometheus_client import CollectorRegistry

from services.api.config import ApiConfig
from services.api.servicers import (
    BrowserServicer,
    CatalogServicer,
    OrchestrationServicer,
    QueryServicer,
    TaskCallbackServicer,
)
from services.common.runner import ServiceParts
from services.common.server import Registration


async def build(config: ApiConfig, registry: CollectorRegistry) -> ServiceParts:
    return ServiceParts(
        registrations=[
            Registration(
                orch_grpc.add_OrchestrationServiceServicer_to_server,
                OrchestrationServicer(),
                "arco.orchestration.v1.OrchestrationService",
            ),
            Registration(
                callback_grpc.add_TaskCallbackServiceServicer_to_server,
                TaskCallbackServicer(),
                "arco.orchestration.v1.TaskCallbackService",
            ),
            Registration(
                catalog_grpc.add_CatalogServiceServicer_to_server,
                CatalogServicer(),
                "arco.catalog.v1.CatalogService",
            ),
            Registration(
                query_grpc.add_QueryServiceServicer_to_server,
                QueryServicer(),
                "arco.query.v1.QueryService",
            ),
            Registration(
                browser_grpc.add_BrowserServiceServicer_to_server,
                BrowserServicer(),
                "arco.browser.v1.BrowserService",
            ),
        ]
    )
