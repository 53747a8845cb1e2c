"""The HTTP/JSON gateway: translates /api/v1 REST calls to the api's gRPC services.

It only translates protocols; it never imports domain code.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.config import GatewayConfig

log = structlog.get_logger(__name__)


def create_app(config: GatewayConfig, registry: CollectorRegistry | None = None) -> Starlette:
    metrics_registry = registry or CollectorRegistry()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # grpc.aio channels are bound to the running loop: create them here, never at import.
        channel = grpc.aio.insecure_channel(config.api_address)
        app.state.channel = channel
        try:
            yield
        finally:
            await channel.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        stub: Any = health_pb2_grpc.HealthStub(request.app.state.channel)
        try:
            answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2.0)
        except grpc.aio.AioRpcError as exc:
            return JSONResponse(
                {"ready": False, "message": f"api unavailable: {exc.code().name}"}, status_code=503
            )
        ready = answer.status == health_pb2.HealthCheckResponse.SERVING
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
    )
