"""The shared gRPC server builder: mutual TLS, the authorization matrix, health, reflection,
interceptors, no SO_REUSEPORT."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from arco_runtime.authz import AuthorizationInterceptor
from arco_runtime.rpc import MAX_MESSAGE_BYTES
from arco_runtime.tls import TlsConfig, add_port
from services.common.interceptors import RpcMetrics, ServerInterceptor

# SO_REUSEPORT is on by default in grpc: a second server would silently share a port.
_SERVER_OPTIONS: Sequence[tuple[str, Any]] = (
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)


@dataclasses.dataclass(frozen=True)
class Registration:
    """One servicer to mount: the generated add_*_to_server, the servicer, its full name."""

    add_to_server: Callable[[Any, grpc.aio.Server], None]
    servicer: Any
    service_name: str


@dataclasses.dataclass
class BuiltServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: tuple[str, ...]

    async def set_serving(self, serving: bool) -> None:
        state = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            await self.health.set(name, state)


async def build_server(
    registrations: Sequence[Registration],
    address: str,
    registry: CollectorRegistry,
    tls: TlsConfig,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> BuiltServer:
    """Create and start a grpc.aio server; health reports NOT_SERVING until set_serving.

    The port is mutual TLS unless ``tls`` is off (dev on loopback); every RPC is checked
    against the authorization matrix before the service's own ``interceptors``, which run
    inside the shared one, so what they raise is mapped to a status and logged like any
    servicer error.
    """
    server = grpc.aio.server(
        interceptors=[
            ServerInterceptor(RpcMetrics(registry)),
            AuthorizationInterceptor(enforce=tls.enabled),
            *interceptors,
        ],
        options=list(_SERVER_OPTIONS),
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(reg.service_name for reg in registrations)
    for reg in registrations:
        reg.add_to_server(reg.servicer, server)
    reflection.enable_server_reflection(
        (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port = add_port(server, address, tls)
    await server.start()
    built = BuiltServer(server=server, port=port, health=health_servicer, service_names=names)
    await built.set_serving(False)
    return built


# The servicer context of grpc.aio handlers (generic in the stubs, not at run time).
RpcContext: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
