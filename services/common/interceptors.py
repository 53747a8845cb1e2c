"""Server interceptors: request ids, structured logs, metrics and error mapping."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc
import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram

from arco_core.errors import ArcoError
from arco_runtime.rpc import LATENCY_BUCKETS, Behaviour, rewrap_handler
from services.common import status

Ctx: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"

log = structlog.get_logger(__name__)

REQUEST_ID_KEY = "x-request-id"
TRACEPARENT_KEY = "traceparent"


class RpcMetrics:
    """Per-process RPC metrics registered on the service's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "arco_rpc_requests",
            "RPCs handled, by method and status code.",
            ["method", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "arco_rpc_latency_seconds",
            "RPC handling latency.",
            ["method"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Binds request context, logs one line per RPC, maps errors to statuses.

    Domain errors become their status with an ErrorInfo detail. Anything else becomes
    INTERNAL with a fresh error id, logged with the traceback under the same id.
    """

    def __init__(self, metrics: RpcMetrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None:
            return handler
        method: str = details.method
        metadata = dict(details.invocation_metadata or ())

        def wrap(inner: Behaviour, streaming: bool) -> Behaviour:
            if streaming:
                return self._wrap_stream(inner, method, metadata)
            return self._wrap_unary(inner, method, metadata)

        return rewrap_handler(handler, wrap)

    def _bind(self, method: str, metadata: dict[str, Any]) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            rpc=method,
            request_id=metadata.get(REQUEST_ID_KEY) or uuid.uuid4().hex,
        )
        if traceparent := metadata.get(TRACEPARENT_KEY):
            structlog.contextvars.bind_contextvars(traceparent=traceparent)

    async def _abort(self, context: Ctx, exc: Exception) -> None:
        if isinstance(exc, ArcoError):
            await context.abort_with_status(status.to_status(exc))
        error_id = uuid.uuid4().hex
        log.error("rpc_internal_error", error_id=error_id, exc_info=exc)
        await context.abort_with_status(status.internal_status(error_id))

    def _finish(self, method: str, code: grpc.StatusCode, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._metrics.requests.labels(method, code.name).inc()
        self._metrics.latency.labels(method).observe(elapsed)
        log.info("rpc", code=code.name, ms=round(elapsed * 1e3, 3))
        structlog.contextvars.clear_contextvars()

    def _wrap_unary(
        self, inner: Any, method: str, metadata: dict[str, Any]
    ) -> Callable[[Any, Ctx], Awaitable[Any]]:
        async def wrapper(request: Any, context: Ctx) -> Any:
            self._bind(method, metadata)
            started, code = time.perf_counter(), grpc.StatusCode.OK
            try:
                return await inner(request, context)
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception as exc:
                code = (
                    status.GRPC_STATUS[exc.code]
                    if isinstance(exc, ArcoError)
                    else (grpc.StatusCode.INTERNAL)
                )
                await self._abort(context, exc)
                raise  # unreachable: abort raises
            finally:
                self._finish(method, code, started)

        return wrapper

    def _wrap_stream(
        self, inner: Any, method: str, metadata: dict[str, Any]
    ) -> Callable[[Any, Ctx], AsyncIterator[Any]]:
        async def wrapper(request: Any, context: Ctx) -> AsyncIterator[Any]:
            self._bind(method, metadata)
            started, code = time.perf_counter(), grpc.StatusCode.OK
            try:
                async for item in inner(request, context):
                    yield item
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception as exc:
                code = (
                    status.GRPC_STATUS[exc.code]
                    if isinstance(exc, ArcoError)
                    else (grpc.StatusCode.INTERNAL)
                )
                await self._abort(context, exc)
                raise
            finally:
                self._finish(method, code, started)

        return wrapper
