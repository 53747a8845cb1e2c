"""Builds the compactor's parts from its configuration."""

from __future__ import annotations

from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from services.common.runner import ServiceParts
from services.common.server import Registration
from services.compactor.config import CompactorConfig
from services.compactor.servicer import CompactorServicer


async def build(config: CompactorConfig, registry: CollectorRegistry) -> ServiceParts:
    return ServiceParts(
        registrations=[
            Registration(
                pb_grpc.add_CompactorServiceServicer_to_server,
                CompactorServicer(),
                "arco.compactor.v1.CompactorService",
            )
        ],
        ready_info={"domain": config.domain},
    )
