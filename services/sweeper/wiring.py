"""Builds the sweeper's parts from its configuration."""

from __future__ import annotations

from arco.sweeper.v1 import sweeper_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from services.common.runner import ServiceParts
from services.common.server import Registration
from services.sweeper.config import SweeperConfig
from services.sweeper.servicer import SweeperServicer


async def build(config: SweeperConfig, registry: CollectorRegistry) -> ServiceParts:
    return ServiceParts(
        registrations=[
            Registration(
                pb_grpc.add_SweeperServiceServicer_to_server,
                SweeperServicer(),
                "arco.sweeper.v1.SweeperService",
            )
        ]
    )
