"""Builds the dispatcher's parts from its configuration."""

from __future__ import annotations

from arco.dispatch.v1 import dispatcher_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from services.common.runner import ServiceParts
from services.common.server import Registration
from services.dispatcher.config import DispatcherConfig
from services.dispatcher.servicer import DispatcherServicer


async def build(config: DispatcherConfig, registry: CollectorRegistry) -> ServiceParts:
    return ServiceParts(
        registrations=[
            Registration(
                pb_grpc.add_DispatcherServiceServicer_to_server,
                DispatcherServicer(),
                "arco.dispatch.v1.DispatcherService",
            )
        ]
    )
